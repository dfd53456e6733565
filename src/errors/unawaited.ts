/**
 * Promises that may be left unawaited. A send to a channel the client has just closed rejects; code
 * that fires and forgets it (`void daemon.sendExitStatus(id, 0)`), and the daemon's own internal
 * sends, must not turn that rejection into an `unhandledRejection`, which ends a Node.js process.
 */

const ignore = (): void => undefined;

/**
 * Marks `promise` handled and returns the same promise: whoever awaits it (or chains on it) still
 * sees the rejection; left unawaited, it never becomes an unhandled rejection.
 */
export function markHandled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(ignore);
  return promise;
}

/**
 * Runs `fn` and returns its promise marked handled ({@link markHandled}); a synchronous throw
 * (an unknown channel id, a bad argument) becomes that promise's rejection, so a promise-returning
 * method never throws synchronously either.
 */
export function handledCall<T>(fn: () => Promise<T> | T): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = Promise.resolve(fn());
  } catch (err) {
    promise = Promise.reject(err);
  }
  return markHandled(promise);
}
