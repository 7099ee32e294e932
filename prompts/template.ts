/** `{name}` placeholders; braces around anything else (JSON examples) are left alone. */
export function fillTemplate(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (match, name: string) =>
    Object.hasOwn(values, name) ? String(values[name]) : match,
  );
}

/** Placeholders a template must contain: an override that drops one would silently lose an input. */
export function missingPlaceholders(template: string, required: readonly string[]): string[] {
  return required.filter((name) => !template.includes(`{${name}}`));
}
