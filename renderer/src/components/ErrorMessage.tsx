/** The one place a screen shows what went wrong; `data-testid="error"` for the end-to-end test. */
export function ErrorMessage({ message }: { message?: string }) {
  if (!message) return null;
  return (
    <p className="error-message" role="alert" data-testid="error">
      {message}
    </p>
  );
}
