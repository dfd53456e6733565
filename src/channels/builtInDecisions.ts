/**
 * Decisions on requests a built-in service serves: enableSFTP's `sftp` subsystem, enableSCP's
 * `exec scp -t|-f`, enableForwarding's `direct-tcpip` opens and `tcpip-forward` /
 * `cancel-tcpip-forward` requests, enableProcesses' `exec`, `shell`, `pty-req`, `env`,
 * `window-change`, `signal` and `break`.
 *
 * Such a request starts granted. A handler's `false` is a refusal, with one exception: a decision
 * made from the request type alone, when that type does not name the service. The README pattern
 * `e.success = e.requestType === 'exec'` reads `requestType` and nothing else; `subsystem` and
 * `exec` do not say SFTP or SCP, so that `false` is ignored (and logged). Everything else counts,
 * so a security decision never fails open: a handler that read anything beyond the type (the
 * connection, `params`, `builtIn`, the packet ... as `isGuest(e)` or `requestParamsOf` do), one that
 * read nothing at all (`e.success = false`), or one that decided by a type that names the service
 * (`direct-tcpip`, `tcpip-forward`, `cancel-tcpip-forward` are always forwarding).
 */

/** The method that switches each built-in on, for log lines. */
const SERVICES: Readonly<Record<string, string>> = {
  sftp: 'enableSFTP',
  scp: 'enableSCP',
  forwarding: 'enableForwarding',
  processes: 'enableProcesses',
};

/** The fields that hold a request's type. */
const TYPE_FIELDS: ReadonlySet<string> = new Set(['service', 'requestType']);
/**
 * Services whose request or channel type alone names them: a decision by type is about them
 * (`exec`, `shell`, `pty-req`, ... are what the process service does: `if (e.requestType === 'shell')
 * e.success = false` switches shells off).
 */
const NAMED_BY_TYPE: ReadonlySet<string> = new Set(['forwarding', 'processes']);

/** What happened to the decision of a built-in request, for the log line after it. */
export interface BuiltInDecisionTrace {
  /** A handler's `false` refused it. */
  refused: boolean;
  /** A handler set `false` from the request type alone (a type that does not name the service); ignored. */
  ignoredFalse: boolean;
}

const traces = new WeakMap<object, BuiltInDecisionTrace>();

/**
 * The event arguments of a decision. With `builtIn` '' they are the plain object (decided by the
 * handlers alone); otherwise the decision field starts true and follows the rule above.
 */
export function decisionArgs<T extends Record<string, unknown>, F extends string>(
  fields: T,
  field: F,
  builtIn: string,
): T & Record<F, boolean> & { readonly builtIn: string } {
  const args = { ...fields, [field]: builtIn !== '', builtIn } as T & Record<F, boolean> & { builtIn: string };
  if (!builtIn) return args;
  const trace: BuiltInDecisionTrace = { refused: false, ignoredFalse: false };
  const typeNamesService = NAMED_BY_TYPE.has(builtIn);
  let readType = false;
  let readOther = false;
  for (const name of Object.keys(args)) {
    if (name === field) continue;
    const stored = (args as Record<string, unknown>)[name];
    const isType = TYPE_FIELDS.has(name) && !typeNamesService;
    Object.defineProperty(args, name, {
      enumerable: true,
      get() {
        if (isType) readType = true;
        else readOther = true;
        return stored;
      },
    });
  }
  let value = true;
  Object.defineProperty(args, field, {
    enumerable: true,
    get: () => value,
    set: (v: boolean) => {
      if (v) {
        value = true;
        trace.refused = false;
        trace.ignoredFalse = false;
      } else if (readType && !readOther) {
        trace.ignoredFalse = true;
      } else {
        value = false;
        trace.refused = true;
      }
    },
  });
  traces.set(args, trace);
  return args;
}

/** How the decision of a built-in request came about; undefined for other requests. */
export function builtInTrace(args: object): BuiltInDecisionTrace | undefined {
  return traces.get(args);
}

/**
 * The log line for a built-in request's decision (info level): a handler refused it, or a
 * handler's `false` made from the type alone was ignored; undefined when there is nothing to say.
 */
export function builtInDecisionLog(args: { readonly builtIn: string }, what: string): { level: 1 | 2; message: string } | undefined {
  const trace = traces.get(args);
  if (!trace) return undefined;
  const service = SERVICES[args.builtIn] ?? args.builtIn;
  if (trace.refused) return { level: 1, message: `${what}, which ${service} serves, was refused by a handler` };
  if (trace.ignoredFalse) {
    return {
      level: 1,
      message: `${what} is served by ${service}: a handler's false, decided from the request type alone, was ignored (read e.builtIn or the request to refuse it)`,
    };
  }
  return undefined;
}
