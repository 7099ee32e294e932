/**
 * An AbortSignal whose "abort" listeners cost O(1) to add and remove.
 *
 * Node's EventTarget walks a signal's whole listener list on every `addEventListener` (to refuse a
 * duplicate) and every `removeEventListener`. LangGraph adds a listener per task and per subgraph step to
 * the run's signal and to each step's signal, and removes it when the task ends: in a wave at concurrency
 * 128 those lists hold 1,000 to 1,400 listeners, so each add and remove walked that many. Here the
 * function listeners of "abort" live in an insertion-ordered Set behind one native listener, which calls
 * them in the order they were added, once, with the signal as `this`, as EventTarget does; a listener
 * that throws is reported as an uncaught exception after the others ran, as EventTarget does. Anything
 * else (another event type, a listener object, `capture`, a `signal` option) goes to EventTarget itself.
 * Only the given signal changes (its own two methods), never `AbortSignal.prototype`.
 */
type AbortListener = (this: AbortSignal, event: Event) => unknown;
type ListenerOptions = boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal };
type NativeAdd = (type: string, listener: unknown, options?: ListenerOptions) => void;

const fanned = new WeakSet<AbortSignal>();

function plain(options: ListenerOptions | undefined): boolean {
  if (typeof options === "boolean") return !options;
  if (options === undefined || options === null) return true;
  return !options.capture && !options.signal;
}

/** Give `signal` O(1) abort listeners (idempotent); returns it. */
export function fanOutAbortListeners(signal: AbortSignal): AbortSignal {
  if (fanned.has(signal)) return signal;
  fanned.add(signal);
  const add = signal.addEventListener.bind(signal) as NativeAdd;
  const remove = signal.removeEventListener.bind(signal) as NativeAdd;
  const listeners = new Set<AbortListener>();
  let armed = false;
  const dispatch = (event: Event) => {
    const due = [...listeners];
    listeners.clear();
    for (const listener of due) {
      try {
        listener.call(signal, event);
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  };
  const own = (name: string, value: unknown) =>
    Object.defineProperty(signal, name, { value, configurable: true, writable: true });
  own("addEventListener", (type: string, listener: unknown, options?: ListenerOptions) => {
    if (type !== "abort" || typeof listener !== "function" || !plain(options)) {
      add(type, listener, options);
      return;
    }
    // An abort is dispatched once: a listener added after it never runs, as with EventTarget.
    if (signal.aborted) return;
    if (!armed) {
      armed = true;
      add("abort", dispatch, { once: true });
    }
    listeners.add(listener as AbortListener);
  });
  own("removeEventListener", (type: string, listener: unknown, options?: ListenerOptions) => {
    if (type === "abort" && plain(options) && listeners.delete(listener as AbortListener)) return;
    remove(type, listener, options);
  });
  return signal;
}
