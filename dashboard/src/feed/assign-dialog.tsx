import { useState } from "react";
import { Modal } from "./modal";
import { useAgents } from "./directory";

/** Props of `AssignDialog`. */
export interface AssignDialogProps {
  /** What is being assigned, in words ("“Card fraud”", "3 selected alerts"). */
  what: string;
  /** Whether a note may go with it (single alerts; the bulk route takes none). */
  withNote: boolean;
  /** Preselected (the alert's current assignee). */
  current?: string | null;
  onSubmit: (agentId: string, note: string | undefined) => void;
  onClose: () => void;
  fallbackFocus?: () => HTMLElement | null;
}

/** "Assign alert": pick an agent from the directory (online first, with presence), optionally with a note. */
export function AssignDialog({ what, withNote, current, onSubmit, onClose, fallbackFocus }: AssignDialogProps) {
  const { agents, error, loading } = useAgents({ withPresence: true });
  const [agentId, setAgentId] = useState(current ?? "");
  const [note, setNote] = useState("");
  return (
    <Modal title="Assign alert" onClose={onClose} fallbackFocus={fallbackFocus}>
      <form
        className="modal-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!agentId.trim()) return;
          onSubmit(agentId.trim(), note.trim() || undefined);
        }}
      >
        <p>Assign {what} to:</p>
        {error && (
          <p role="alert" className="form-error">
            Could not load the directory: {error}
          </p>
        )}
        {agents && agents.length > 0 ? (
          <label className="field">
            <span>Agent</span>
            <select required value={agentId} onChange={(e) => setAgentId(e.currentTarget.value)}>
              <option value="" disabled>
                Choose an agent…
              </option>
              {agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name === a.id ? a.id : `${a.name} (${a.id})`} — {a.online ? "online" : "offline"}
                </option>
              ))}
            </select>
          </label>
        ) : loading ? (
          <p aria-live="polite">Loading agents…</p>
        ) : (
          <label className="field">
            <span>Agent id</span>
            <input required value={agentId} onInput={(e) => setAgentId(e.currentTarget.value)} />
          </label>
        )}
        {withNote && (
          <label className="field">
            <span>Note (optional)</span>
            <textarea maxLength={2000} rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
        )}
        <div className="modal-actions">
          <button type="submit" className="primary" disabled={loading}>
            Assign
          </button>
        </div>
      </form>
    </Modal>
  );
}
