/** Ids are decimal strings from one process-wide counter, so they are never reused while the process runs. */
let next = 0;
export function nextId(): string {
  next += 1;
  return String(next);
}
