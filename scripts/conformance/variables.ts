import { TestScriptInvalid } from './errors.js';
import { asText, evaluate, pathAsFhirPath } from './fhirpath.js';
import type { RunContext } from './context.js';
import type { Variable } from './model.js';
import { dateFunction, Placeholders } from './placeholders.js';

const REFERENCE = /\$\{([^}]+)\}/g;
/** Deep enough for a default that names another variable; a cycle stops here instead of looping. */
const MAX_NESTING = 8;

/**
 * The script's variables, each evaluated when it is used (so one taken from a response has the value of the latest
 * response under that id). A value given on the command line wins, as a tester's entry does on Touchstone; then the
 * expression, path or header on its source; then its defaultValue.
 */
export class Variables {
  private readonly declared: Map<string, Variable>;
  private readonly placeholders = new Placeholders();

  constructor(
    declared: Variable[],
    private readonly given: Record<string, string>,
    private readonly context: RunContext,
  ) {
    this.declared = new Map(declared.map((variable) => [variable.name, variable]));
  }

  value(name: string, depth = 0): string | undefined {
    if (name in this.given) return this.given[name];
    const variable = this.declared.get(name);
    if (!variable) return this.placeholders.value(name) ?? dateFunction(name, (base) => this.value(base, depth + 1));
    const found = this.fromSource(variable);
    if (found !== undefined) return found;
    return variable.defaultValue === undefined ? undefined : this.substitute(variable.defaultValue, depth + 1);
  }

  /** `${name}` replaced by the variable's value; a variable without one stops the operation naming it. */
  substitute(text: string, depth = 0): string {
    if (depth > MAX_NESTING) throw new TestScriptInvalid(`variables nest deeper than ${MAX_NESTING} in '${text}'`);
    return text.replace(REFERENCE, (_, name: string) => {
      const value = this.value(name, depth);
      if (value === undefined) throw new TestScriptInvalid(this.missing(name));
      return value;
    });
  }

  /** In a fixture's text only the script's own variables and Touchstone's placeholders are filled in: other `${…}` text is content. */
  substituteDeclared(text: string): string {
    return text.replace(REFERENCE, (whole, name: string) => {
      if (!this.declared.has(name) && !(name in this.given) && this.value(name) === undefined) return whole;
      const value = this.value(name);
      if (value === undefined) throw new TestScriptInvalid(this.missing(name));
      return value;
    });
  }

  private fromSource(variable: Variable): string | undefined {
    const sourceId = variable.sourceId;
    if (variable.headerField) {
      const headers = sourceId ? this.context.headers(sourceId) : this.context.last?.response.headers;
      return headers?.[variable.headerField.toLowerCase()];
    }
    const expression = variable.expression ?? (variable.path ? pathAsFhirPath(variable.path) : undefined);
    if (!expression) return undefined;
    const resource = sourceId ? this.context.resource(sourceId) : this.context.last?.response.resource;
    return resource ? asText(evaluate(resource, expression, this.context.version)) : undefined;
  }

  private missing(name: string): string {
    const variable = this.declared.get(name);
    if (!variable) return `variable ${name} is not declared nor a Touchstone placeholder (give it with --var ${name}=…)`;
    const source = variable.sourceId ? ` from ${variable.sourceId}, which ${this.context.knows(variable.sourceId) ? 'gave nothing' : 'has not been received'}` : '';
    return `variable ${name} has no value${source} (give it with --var ${name}=…${variable.description ? `; ${variable.description}` : ''})`;
  }
}
