/** One keyboard-interactive prompt. */
export interface KeyboardInteractivePrompt {
  /** The prompt text, e.g. 'Verification code: '. */
  prompt: string;
  /** True: the client shows the answer as it is typed. */
  echo: boolean;
}

/**
 * Parses the KeyboardInteractivePrompts[connId] setting: a JSON array of {prompt, echo}, or a comma
 * list of 'text', 'text|echo' or 'text|noecho' (no echo unless asked).
 */
export function parsePromptSetting(text: string): KeyboardInteractivePrompt[] {
  // Only leading blanks go: prompts usually end in ': '.
  const t = text.trimStart();
  if (!t) return [];
  if (t.startsWith('[')) {
    const parsed: unknown = JSON.parse(t);
    if (!Array.isArray(parsed)) throw new Error('expects a JSON array of {prompt, echo}');
    return parsed.map((p) => ({
      prompt: String((p as KeyboardInteractivePrompt).prompt ?? p),
      echo: Boolean((p as KeyboardInteractivePrompt).echo),
    }));
  }
  return t.split(',').map((item) => {
    const [prompt, flag] = item.trimStart().split('|');
    return { prompt, echo: flag?.trim().toLowerCase() === 'echo' };
  });
}
