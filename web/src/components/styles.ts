import { css } from 'lit'

/** Shared look: WCAG AA contrast (text #1b1f24 on #fff is 16:1), visible focus, 44 px targets. */
export const baseStyles = css`
  :host {
    --sc-fg: #1b1f24;
    --sc-muted: #4b5563;
    --sc-bg: #ffffff;
    --sc-panel: #f3f4f6;
    --sc-accent: #1d4ed8;
    --sc-accent-fg: #ffffff;
    --sc-danger: #b91c1c;
    --sc-ok: #166534;
    --sc-border: #d1d5db;
    color: var(--sc-fg);
    font: 16px/1.4 system-ui, sans-serif;
  }
  button {
    font: inherit;
    min-height: 44px;
    padding: 0 1rem;
    border-radius: 8px;
    border: 1px solid var(--sc-accent);
    background: var(--sc-accent);
    color: var(--sc-accent-fg);
    cursor: pointer;
  }
  button.secondary {
    background: var(--sc-bg);
    color: var(--sc-accent);
  }
  button:disabled {
    opacity: 0.6;
    cursor: not-allowed;
  }
  input,
  select,
  textarea {
    font: inherit;
    min-height: 44px;
    padding: 0 0.5rem;
    border: 1px solid var(--sc-muted);
    border-radius: 8px;
    background: var(--sc-bg);
    color: var(--sc-fg);
    box-sizing: border-box;
  }
  :focus-visible {
    outline: 3px solid #f59e0b;
    outline-offset: 2px;
  }
  label {
    display: grid;
    gap: 0.25rem;
    font-weight: 600;
  }
  .error {
    color: var(--sc-danger);
  }
  .muted {
    color: var(--sc-muted);
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
`

/** The single-column forms of the create, join and new-DM pages. */
export const formStyles = css`
  form {
    display: grid;
    gap: 1rem;
    max-width: 32rem;
  }
`

// Also for state that words a sentence (a notification's title): one shortening everywhere.
export { shortAddress } from '../state/short-address.ts'
