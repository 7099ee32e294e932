import type { LangGraphRunnableConfig, Send } from "@langchain/langgraph";

type Route<S> = (state: S, config: LangGraphRunnableConfig) => string | Send[] | Promise<string | Send[]>;

/**
 * A conditional edge drawn with labels, as the arrows of the paper's Figure 2: the route still returns
 * node names (or `Send` tasks), and `labels` says what each destination's arrow reads. Destinations
 * reached only by `Send` are listed too, so the drawing shows every arrow.
 */
export function labelled<S, N extends string, T extends string>(source: N, route: Route<S>, labels: Record<T, string>) {
  const labelOf = new Map(Object.entries(labels) as Array<[T, string]>);
  const path = async (state: S, config: LangGraphRunnableConfig) => {
    const to = await route(state, config);
    if (typeof to !== "string") return to;
    const label = labelOf.get(to as T);
    if (label === undefined) throw new Error(`route ${route.name} from ${source} chose "${to}", which has no label`);
    return label;
  };
  Object.defineProperty(path, "name", { value: route.name });
  const pathMap: Record<string, T> = Object.fromEntries([...labelOf].map(([node, label]) => [label, node]));
  return { source, path, pathMap };
}
