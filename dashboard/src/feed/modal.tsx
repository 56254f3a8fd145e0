import { useEffect, useId, useRef, type ReactNode } from "react";

/** Props of `Modal`. */
export interface ModalProps {
  /** The dialog's accessible name (its heading). */
  title: string;
  /** Called when the user closes it (Escape, the Close button) and after `close()`. */
  onClose: () => void;
  /** Where focus goes on close when the element that opened it is gone. */
  fallbackFocus?: () => HTMLElement | null;
  className?: string;
  children: ReactNode;
}

/**
 * A modal `<dialog>` opened with `showModal()`: the browser traps focus and
 * closes it on Escape; on close focus returns to the element that opened it.
 */
export function Modal({ title, onClose, fallbackFocus, className, children }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const latest = useRef({ onClose, fallbackFocus });
  latest.current = { onClose, fallbackFocus };
  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const closed = () => latest.current.onClose();
    dialog.addEventListener("close", closed);
    if (!dialog.open) dialog.showModal();
    return () => {
      dialog.removeEventListener("close", closed);
      if (dialog.open) dialog.close();
      const back = opener?.isConnected && opener !== document.body ? opener : latest.current.fallbackFocus?.();
      back?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} className={`modal ${className ?? ""}`} aria-labelledby={headingId}>
      <div className="modal-head">
        <h2 id={headingId}>{title}</h2>
        <button type="button" className="modal-close" onClick={() => ref.current?.close()}>
          Close
        </button>
      </div>
      {children}
    </dialog>
  );
}
