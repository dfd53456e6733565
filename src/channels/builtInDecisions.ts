/**
 * Decisions on requests a built-in service serves: enableSFTP's `sftp` subsystem, enableSCP's
 * `exec scp -t|-f`, enableForwarding's `direct-tcpip` opens and `tcpip-forward` /
 * `cancel-tcpip-forward` requests.
 *
 * The rule: such a request starts granted, and a handler's `false` counts only when a handler
 * looked at what identifies the request as the built-in's: `builtIn`, `params`, `packet` or
 * `parameters` (which `requestParamsOf`, `getSSHParam` and `directTcpipTarget` read), or the type
 * itself where the type alone names the service (`direct-tcpip`, `tcpip-forward`,
 * `cancel-tcpip-forward`: every one of them is forwarding). A handler that decides by a type that
 * does not name the service (`e.success = e.requestType === 'exec'` meets the `sftp` subsystem and
 * `exec scp`) cannot switch a built-in off by accident; a refusal by type that does name it
 * (`if (e.service === 'direct-tcpip') e.accept = isAdmin(e)`) is a decision and counts: a security
 * choice must never fail open.
 */

/** The method that switches each built-in on, for log lines. */
const SERVICES: Readonly<Record<string, string>> = { sftp: 'enableSFTP', scp: 'enableSCP', forwarding: 'enableForwarding' };

/** The fields that count as looking at the request. */
const DETAIL_FIELDS = ['builtIn', 'params', 'packet', 'parameters'] as const;
/** Services whose request or channel type alone names them: reading the type is looking at the request. */
const NAMED_BY_TYPE = new Set(['forwarding']);
const TYPE_FIELDS = ['service', 'requestType'] as const;

/** What happened to the decision of a built-in request, for the log line after it. */
export interface BuiltInDecisionTrace {
  /** A handler that looked at the request set the decision to false. */
  refused: boolean;
  /** A handler set false without looking at the request; ignored. */
  ignoredFalse: boolean;
}

const traces = new WeakMap<object, BuiltInDecisionTrace>();

/**
 * The event arguments of a decision. With `builtIn` '' they are the plain object (decided by the
 * handlers alone); otherwise the decision field starts true and follows the rule above.
 */
export function decisionArgs<T extends Record<string, unknown>, F extends string>(fields: T, field: F, builtIn: string): T & Record<F, boolean> & { readonly builtIn: string } {
  const args = { ...fields, [field]: builtIn !== '', builtIn } as T & Record<F, boolean> & { builtIn: string };
  if (!builtIn) return args;
  const trace: BuiltInDecisionTrace = { refused: false, ignoredFalse: false };
  let looked = false;
  let value = true;
  const watched: readonly string[] = NAMED_BY_TYPE.has(builtIn) ? [...DETAIL_FIELDS, ...TYPE_FIELDS] : DETAIL_FIELDS;
  for (const name of watched) {
    if (!(name in args)) continue;
    const stored = (args as Record<string, unknown>)[name];
    Object.defineProperty(args, name, {
      enumerable: true,
      get() {
        looked = true;
        return stored;
      },
    });
  }
  Object.defineProperty(args, field, {
    enumerable: true,
    get: () => value,
    set: (v: boolean) => {
      if (v) {
        value = true;
        trace.refused = false;
      } else if (looked) {
        value = false;
        trace.refused = true;
      } else {
        trace.ignoredFalse = true;
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
 * The log line for a built-in request's decision: level 1 when a handler refused it, level 2 when a
 * handler's `false` was ignored; undefined when there is nothing to say.
 */
export function builtInDecisionLog(args: { readonly builtIn: string }, what: string): { level: 1 | 2; message: string } | undefined {
  const trace = traces.get(args);
  if (!trace) return undefined;
  const service = SERVICES[args.builtIn] ?? args.builtIn;
  if (trace.refused) return { level: 1, message: `${what}, which ${service} serves, was refused by a handler` };
  if (trace.ignoredFalse) {
    return { level: 2, message: `${what} is served by ${service}: a handler's false was ignored (it did not look at the request; read e.builtIn to refuse it)` };
  }
  return undefined;
}
