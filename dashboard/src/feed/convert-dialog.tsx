import { useState } from "react";
import { Modal } from "./modal";

/** What `POST /api/v1/alerts/{id}/convert` takes. */
export interface Conversion {
  conversionValue: number;
  conversionType: string;
  note?: string;
}

/** Props of `ConvertDialog`. */
export interface ConvertDialogProps {
  title: string;
  onSubmit: (conversion: Conversion) => void;
  onClose: () => void;
  fallbackFocus?: () => HTMLElement | null;
}

/** "Convert alert": records the outcome, a value (≥ 0) and a type, with an optional note. */
export function ConvertDialog({ title, onSubmit, onClose, fallbackFocus }: ConvertDialogProps) {
  const [value, setValue] = useState("");
  const [type, setType] = useState("");
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState<string | undefined>();
  return (
    <Modal title="Convert alert" onClose={onClose} fallbackFocus={fallbackFocus}>
      <form
        className="modal-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const n = Number(value);
          if (value.trim() === "" || !Number.isFinite(n) || n < 0) return setProblem("Enter a value of 0 or more.");
          if (!type.trim()) return setProblem("Enter a conversion type.");
          onSubmit({ conversionValue: n, conversionType: type.trim(), ...(note.trim() && { note: note.trim() }) });
        }}
      >
        <p>Record the outcome of “{title}”.</p>
        <label className="field">
          <span>Value</span>
          <input type="number" min={0} step="any" inputMode="decimal" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <label className="field">
          <span>Conversion type</span>
          <input required maxLength={64} placeholder="e.g. upsell" value={type} onInput={(e) => setType(e.currentTarget.value)} />
        </label>
        <label className="field">
          <span>Note (optional)</span>
          <textarea maxLength={2000} rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        {problem && (
          <p role="alert" className="form-error">
            {problem}
          </p>
        )}
        <div className="modal-actions">
          <button type="submit" className="primary">
            Convert
          </button>
        </div>
      </form>
    </Modal>
  );
}
