/**
 * Open SFTP handles counted per user across every session of a daemon (all channels, all
 * connections): each handle holds a file descriptor, and one process serves every user, so a
 * per-session limit alone lets one user take the process's descriptors by opening more sessions.
 */

/** One session's share of its user's count. */
export interface SFTPHandleBudget {
  /** The limit this session applies. */
  readonly limit: number;
  /** Takes a slot for a handle about to be opened; false when the user holds `limit` already. */
  take(): boolean;
  /** Gives back a slot taken by {@link SFTPHandleBudget.take} (the handle closed, or failed to open). */
  give(): void;
}

/** The per-user counts of one daemon. */
export class SFTPHandleCounts {
  private readonly counts = new Map<string, number>();

  /** A budget for a session of `user` that allows at most `limit` handles for the user overall. */
  budget(user: string, limit: number): SFTPHandleBudget {
    const counts = this.counts;
    return {
      limit,
      take() {
        const n = counts.get(user) ?? 0;
        if (n >= limit) return false;
        counts.set(user, n + 1);
        return true;
      },
      give() {
        const n = (counts.get(user) ?? 0) - 1;
        if (n > 0) counts.set(user, n);
        else counts.delete(user);
      },
    };
  }

  /** Handles `user` holds now. */
  held(user: string): number {
    return this.counts.get(user) ?? 0;
  }
}
