import { narrativeAllowed } from '../fhir/narrative.js';
import type { IssueSeverity, OperationOutcomeIssue } from '../fhir/outcome.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { outOfBound } from './bounds.js';
import { BundleContext } from './bundle.js';
import { conformanceProblems } from './conformance.js';
import type { Child, Compiler, ElementRule, ItemPlan, RequiredBinding, Structure, TypeRule } from './compile.js';
import type { Invariant } from './invariants.js';
import { CORE_PREFIX, publisherNamespace, type StructureDefinition } from './definitions.js';
import { earlierRevision, replacedCode } from './legacy-codes.js';
import { narrativeControlProblems } from './narrative-controls.js';
import { DEFAULT_POLICY, embeddedHtmlAt, isExampleUrl, looksLikeHtml, type ContentPolicy } from './policy.js';
import { checkPrimitive, isAbsoluteUrl } from './primitives.js';
import { ParametersContext } from './parameters.js';
import { referenceType, type SlicingRule } from './slicing.js';
import { declaredProfiles, describeValue, matchesFixed, matchesPattern } from './values.js';
import { impliedVitalSignsProfile } from './vital-signs.js';
import { mustBeKnown } from './workflow-profiles.js';
import { asList, isObject } from '../vocabulary/json.js';

type Json = Record<string, unknown>;

/** `http://hl7.org/fhir/1.0/StructureDefinition/extension-Patient.animal`: FHIR's cross-version extensions. */
const CROSS_VERSION_EXTENSION = /^http:\/\/hl7\.org\/fhir\/\d\.\d\/StructureDefinition\/extension-/;
/** Domains whose extensions the HL7 validator allows without a definition: examples, and DICOM's. */
const EXAMPLE_EXTENSION = /^https?:\/\/([^/]+\.)?(example\.org|acme\.com|nema\.org)\//;
const VALUE_IN_DEFINITION = /^ElementDefinition\.(example|fixed|pattern|defaultValue|minValue|maxValue)/;

/**
 * What an extension whose definition is not known does to the verdict: `refuse`, the HL7 validator's default (the CLI,
 * the agreement suite), or `allow`, as its `-extension any` (the server: FHIR lets any organisation define its own
 * extensions, and an EHR's are noted, not refused). An unknown modifier extension is refused either way.
 */
export type UnknownExtensions = 'refuse' | 'allow';

/** An element extensions may sit on, and where it is in the walk. */
interface HostFrame {
  path: string;
  type: string;
  value: unknown;
  url?: string;
  depth: number;
}

/** What one resource's walk needs to know about the resource it is in. */
interface ResourceScope {
  resource: Json;
  /** Contained resources by id, of the resource that contains them (shared with its contained resources). */
  contained: ReadonlyMap<string, Json>;
  /** `#...` references seen, for dom-3. */
  localReferences: Set<string>;
  /** Profiles the resource (or its container) declares that are not known here: their packages may define its extensions. */
  unknownProfiles: string[];
}

/**
 * One validation: walks a resource against compiled rules and collects issues. The FHIRPath of the current
 * element is kept as a stack of names and indexes and only turned into a string when an issue is reported.
 */
export class Walker {
  readonly issues: OperationOutcomeIssue[] = [];
  private readonly names: string[] = [];
  private readonly indexes: number[] = [];
  private depth = 0;
  private scope!: ResourceScope;
  private rootResource: Json | undefined;
  private bundle?: BundleContext;
  private bundleDepth = -1;
  /** The Parameters resource the walk is in, whose parameter resources references resolve to. */
  private parameters?: ParametersContext;
  private parametersDepth = -1;
  /** While walking a profile a document predates (see legacy-codes), its errors are reported as warnings. */
  private advisory = false;
  /** The elements walked into that extensions may sit on, innermost last (for extension contexts). */
  private readonly hosts: HostFrame[] = [];
  /** Where the current resource's own path starts in `names`. */
  private scopeStart = 0;
  /** txt-1 and txt-2 are the same htmlChecks() over one narrative: it is run once. */
  private lastNarrative?: { div: string; holds: boolean | undefined };

  constructor(
    private readonly compiler: Compiler,
    private readonly version: FhirVersion,
    private readonly unknownExtensions: UnknownExtensions = 'refuse',
    private readonly policy: ContentPolicy = DEFAULT_POLICY,
  ) {}

  /** Validates a top-level resource against its declared profiles, `profiles`, or else its base definition. */
  validate(resource: unknown, profiles: string[]): void {
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      this.report('error', 'structure', 'A resource must be a JSON object with a resourceType');
      return;
    }
    this.rootResource = resource;
    this.enter(resource.resourceType);
    this.resource(resource, profiles, 'top');
    this.leave();
  }

  // ---- paths and issues

  private enter(name: string, index = -1): void {
    this.names[this.depth] = name;
    this.indexes[this.depth] = index;
    this.depth++;
  }

  private leave(): void {
    this.depth--;
  }

  private expression(child?: string): string {
    let text = '';
    for (let i = 0; i < this.depth; i++) {
      if (i > 0) text += '.';
      text += this.names[i];
      if (this.indexes[i] >= 0) text += `[${this.indexes[i]}]`;
    }
    return child === undefined ? text : `${text}.${child}`;
  }

  private report(severity: IssueSeverity, code: string, text: string, child?: string): void {
    this.add(severity, code, text, this.expression(child));
  }

  private add(requested: IssueSeverity, code: string, text: string, expression: string): void {
    const severity = this.advisory && requested === 'error' ? 'warning' : requested;
    const found: OperationOutcomeIssue = { severity, code, details: { text }, expression: [expression] };
    if (this.version === 'stu3') found.location = [expression];
    this.issues.push(found);
  }

  // ---- resources

  private resource(resource: Json, profiles: string[], placement: 'top' | 'entry' | 'contained'): void {
    const base = this.resourceDefinition(resource);
    if (!base) return;
    const roots = this.rootsFor(resource, base.tree.definition.type, profiles);
    const outer = {
      scope: this.scope,
      bundle: this.bundle,
      bundleDepth: this.bundleDepth,
      scopeStart: this.scopeStart,
      parameters: this.parameters,
      parametersDepth: this.parametersDepth,
    };
    this.scopeStart = this.depth;
    const type = base.tree.definition.type;
    this.hosts.push({ path: type, type, value: resource, depth: this.depth });
    this.scope = {
      resource,
      contained: placement === 'contained' ? outer.scope.contained : containedById(resource),
      localReferences: placement === 'contained' ? outer.scope.localReferences : new Set(),
      unknownProfiles: this.unknownProfiles(resource, placement === 'contained' ? outer.scope.unknownProfiles : NO_PROFILES),
    };
    const mustResolve = this.policy.unresolvedReferences === 'refuse';
    const bundle = resource.resourceType === 'Bundle' ? new BundleContext(resource, this.expression(), this.version, (type) => this.compiler.isResource(type), mustResolve) : undefined;
    if (bundle) [this.bundle, this.bundleDepth] = [bundle, this.depth];
    const parameters = resource.resourceType === 'Parameters' ? new ParametersContext(resource) : undefined;
    if (parameters) [this.parameters, this.parametersDepth] = [parameters, this.depth];
    this.walkProfiles(resource, base, roots);
    if (placement !== 'contained') this.domainResourceRules(resource, base);
    this.conformanceRules(resource);
    bundle?.check((severity, code, text, expression) => this.add(severity, code, text, expression));
    parameters?.check((severity, code, text, expression) => this.add(severity, code, text, expression));
    [this.scope, this.bundle, this.bundleDepth, this.scopeStart] = [outer.scope, outer.bundle, outer.bundleDepth, outer.scopeStart];
    [this.parameters, this.parametersDepth] = [outer.parameters, outer.parametersDepth];
    this.hosts.pop();
  }

  private unknownProfiles(resource: Json, inherited: string[]): string[] {
    if (!isObject(resource.meta) || resource.meta.profile === undefined) return inherited;
    const unknown = declaredProfiles(resource).filter((url) => !this.compiler.root(url));
    return unknown.length ? [...inherited, ...unknown] : inherited;
  }

  private resourceDefinition(resource: Json): ElementRule | undefined {
    const type = resource.resourceType;
    const base = typeof type === 'string' ? this.compiler.root(CORE_PREFIX + type) : undefined;
    const definition = base?.tree.definition;
    if (base && definition?.kind === 'resource' && !definition.abstract) return base;
    this.report('error', 'structure', `Unknown resource type '${String(type)}'`);
    return undefined;
  }

  /** The profiles' snapshots include the base, so the base is walked only when no profile applies. */
  private walkProfiles(resource: Json, base: ElementRule, roots: ElementRule[]): void {
    if (roots.length === 0) {
      this.walkRoot(resource, base);
      return;
    }
    const earlier = earlierRevision(resource);
    if (earlier) {
      const { label, predecessor } = earlier.replacement;
      this.report(
        'warning',
        'business-rule',
        `This ${label} dated ${earlier.date} uses the pre-2022 code ${predecessor.system}|${predecessor.code} and so predates the current profiles: it was checked against ${base.tree.definition.type}, and what the current profiles require is reported as warnings`,
      );
      this.walkRoot(resource, base);
      this.advisory = true;
    }
    for (const root of roots) this.walkRoot(resource, root);
    this.advisory = false;
  }

  private walkRoot(resource: Json, root: ElementRule): void {
    for (const note of root.tree.notes) {
      this.report('information', 'informational', `Profile ${root.tree.definition.url}: ${note}`);
    }
    const plan = root.plan();
    if (plan.structure) this.object(resource, plan.structure);
    this.invariants(resource, plan);
  }

  /** The profiles to walk: the declared ones that are known, those asked for, and vital signs profiles R4 implies. */
  private rootsFor(resource: Json, type: string, requested: string[]): ElementRule[] {
    const declared = declaredProfiles(resource);
    const roots: ElementRule[] = [];
    const use = (url: string, severityIfUnknown: IssueSeverity) => {
      const root = this.compiler.root(url);
      if (!root) {
        this.report(severityIfUnknown, 'not-found', `Profile ${url} is not known, so the resource was not checked against it`);
        return;
      }
      const profiled = root.tree.definition.type;
      if (profiled !== type) {
        this.report('error', 'invalid', `Profile ${url} is for ${profiled}, not ${type}`);
        return;
      }
      if (!roots.includes(root)) roots.push(root);
    };
    for (const url of declared) use(url, mustBeKnown(url, this.version) ? 'error' : 'warning');
    for (const url of requested) use(url, 'error');
    if (this.version === 'r4' && type === 'Observation') {
      const implied = impliedVitalSignsProfile(resource);
      if (implied && this.compiler.root(implied.profile)) {
        this.report('information', 'informational', `Validated against ${implied.profile}, which R4 requires for ${implied.system} code ${implied.code}`);
        use(implied.profile, 'warning');
      }
    }
    return roots;
  }

  /** Rules on conformance resources that are not invariants (the HL7 validator's). */
  private conformanceRules(resource: Json): void {
    for (const problem of conformanceProblems(this.version, this.compiler.registry, this.compiler.trees, resource)) {
      this.report('error', 'business-rule', problem.text, problem.at);
    }
  }

  /** dom-1..dom-6, checked natively for every DomainResource that is not itself contained. */
  private domainResourceRules(resource: Json, base: ElementRule): void {
    if (!base.isDomainResource) return;
    if (this.version === 'r4' && !isObject(resource.text)) {
      this.report('warning', 'invariant', 'Constraint failed: dom-6: A resource should have narrative for robust management (best practice)');
    }
    if (!Array.isArray(resource.contained) || this.policy.containedResources === 'ignore') return;
    resource.contained.forEach((contained: unknown, index: number) => {
      if (!isObject(contained)) return;
      const meta = isObject(contained.meta) ? contained.meta : {};
      const failures: string[] = [];
      if (contained.contained !== undefined) failures.push('dom-2: a contained resource SHALL NOT contain nested resources');
      if (meta.versionId !== undefined || meta.lastUpdated !== undefined) failures.push('dom-4: a contained resource SHALL NOT have a meta.versionId or a meta.lastUpdated');
      if (this.version === 'r4' && meta.security !== undefined) failures.push('dom-5: a contained resource SHALL NOT have a security label');
      if (this.version === 'stu3' && contained.text !== undefined) failures.push('dom-1: a contained resource SHALL NOT contain any narrative');
      if (typeof contained.id !== 'string') failures.push('a contained resource SHALL have an id');
      else if (!this.scope.localReferences.has(`#${contained.id}`) && !JSON.stringify(contained).includes('"reference":"#"')) {
        failures.push('dom-3: a contained resource SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource');
      }
      for (const failure of failures) this.report('error', 'invariant', `Constraint failed: ${failure}`, `contained[${index}]`);
    });
  }

  // ---- objects and elements

  private object(obj: Json, structure: Structure): void {
    let size = 0;
    let onlyId = true;
    for (const key in obj) {
      size++;
      if (key !== 'id') onlyId = false;
      const child = structure.byKey.get(key);
      if (child !== undefined) {
        this.element(child, obj[key], child.type.kind === 'primitive' ? obj[child.type.companion] : undefined);
        continue;
      }
      if (key.charCodeAt(0) === 95) {
        const primitive = structure.byKey.get(key.slice(1));
        if (primitive !== undefined && primitive.type.kind === 'primitive') {
          if (obj[key.slice(1)] === undefined) this.element(primitive, undefined, obj[key]);
          continue;
        }
      } else if ((key === 'resourceType' && structure.isResource) || key === 'fhir_comments') {
        // fhir_comments: how FHIR.js carries XML comments into JSON (and legal STU3 JSON).
        continue;
      }
      this.report('error', 'structure', `Unrecognized property '${key}'`);
    }
    if (size === 0) this.report('error', 'invariant', 'Constraint failed: ele-1: All FHIR elements must have a @value or children (an object cannot be empty)');
    else if (onlyId) this.report('error', 'invariant', 'Constraint failed: ele-1: All FHIR elements must have a @value or children');
    for (const rule of structure.required) if (countPresent(obj, rule, true) === 0) this.missing(rule);
    for (const rule of structure.choices) {
      if (countPresent(obj, rule, false) > 1) {
        const present = rule.types.filter((type) => obj[type.key] !== undefined).map((type) => type.key);
        this.report('error', 'structure', `${rule.id} can only have one type, but has ${present.join(', ')}`);
      }
    }
  }

  private missing(rule: ElementRule): void {
    if (rule.min > 0) this.report('error', 'required', `${rule.id}: minimum required = ${rule.min}, but only found 0`, rule.name);
    for (const slice of rule.slicing()?.slices ?? []) {
      if (slice.rule.min > 0) this.report('error', 'required', `Slice '${slice.rule.id}': minimum required = ${slice.rule.min}, but only found 0`, rule.name);
    }
  }

  private element(child: Child, value: unknown, extension: unknown): void {
    const { rule, type } = child;
    this.enter(type.segment);
    if (!rule.isArray) {
      if (Array.isArray(value) || Array.isArray(extension)) {
        this.report('error', 'structure', `${rule.id} is a single value, not an array`);
      } else if (value === null) {
        // null only aligns a repeating primitive with its `_x` companion.
        this.report('error', 'structure', `${rule.id} must be a value, not null`);
      } else {
        if (rule.max === 0) this.report('error', 'structure', `${rule.id}: maximum allowed = 0, but found 1`);
        this.item(rule, type, value, extension);
      }
    } else if (value !== undefined && !Array.isArray(value)) {
      this.report('error', 'structure', `${rule.id} is an array in JSON, not a single value`);
      this.item(rule, type, value, extension);
    } else {
      this.items(rule, type, (value as unknown[] | undefined) ?? [], Array.isArray(extension) ? extension : undefined);
    }
    this.leave();
  }

  private items(rule: ElementRule, type: TypeRule, values: unknown[], extensions: unknown[] | undefined): void {
    const count = Math.max(values.length, extensions?.length ?? 0);
    if (count === 0) {
      this.report('error', 'structure', 'Array cannot be empty - the property should not be present if it has no values');
      return;
    }
    if (count > rule.max) this.report('error', 'structure', `${rule.id}: maximum allowed = ${rule.max}, but found ${count}`);
    if (count < rule.min) this.report('error', 'required', `${rule.id}: minimum required = ${rule.min}, but only found ${count}`);
    const slicing = rule.slicing();
    if (slicing) {
      this.sliced(rule, type, values, extensions, slicing);
      return;
    }
    const level = this.depth - 1;
    for (let i = 0; i < count; i++) {
      this.indexes[level] = i;
      this.item(rule, type, values[i], extensions?.[i]);
    }
    this.indexes[level] = -1;
  }

  private sliced(rule: ElementRule, type: TypeRule, values: unknown[], extensions: unknown[] | undefined, slicing: SlicingRule): void {
    const level = this.depth - 1;
    const found = new Array<number>(slicing.slices.length).fill(0);
    const possible = new Array<number>(slicing.slices.length).fill(0);
    const resolve = (reference: string) => this.resolve(reference);
    const conforms = (value: unknown, profile: string) => this.conforms(value, profile);
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      let matched = -1;
      let undecided = false;
      for (let o = 0; o < slicing.order.length && matched < 0; o++) {
        const s = slicing.order[o];
        const matchers = slicing.slices[s].matchers;
        if (!matchers) continue;
        let result: boolean | undefined = true;
        for (const matcher of matchers) {
          const answer = matcher(value, resolve, conforms);
          if (answer === false) {
            result = false;
            break;
          }
          if (answer === undefined) result = undefined;
        }
        if (result === true) matched = s;
        else if (result === undefined) {
          possible[s]++;
          undecided = true;
        }
      }
      this.indexes[level] = i;
      if (matched >= 0) {
        for (let s: number | undefined = matched; s !== undefined; s = slicing.slices[s].parent) found[s]++;
        const sliceRule = slicing.slices[matched].rule;
        this.item(sliceRule, sliceRule.types.find((t) => t.code === type.code) ?? type, value, extensions?.[i]);
      } else {
        if (slicing.rules === 'closed' && !undecided) {
          this.report('error', 'structure', `This element does not match any known slice of ${rule.id}, and slicing is closed`);
        } else if (isUndefinedSubExtension(rule, value)) {
          this.report('error', 'structure', `Sub-extension url '${String((value as Json).url)}' is not defined by the extension`);
        }
        this.item(rule, type, value, extensions?.[i]);
      }
    }
    this.indexes[level] = -1;
    slicing.slices.forEach((slice, s) => {
      if (found[s] + possible[s] < slice.rule.min) {
        this.report('error', 'required', `Slice '${slice.rule.id}': minimum required = ${slice.rule.min}, but only found ${found[s]}`);
      }
      if (found[s] > slice.rule.max) {
        this.report('error', 'structure', `Slice '${slice.rule.id}': maximum allowed = ${slice.rule.max}, but found ${found[s]}`);
      }
    });
  }

  private item(rule: ElementRule, type: TypeRule, value: unknown, extension: unknown): void {
    if (type.kind === 'primitive') this.primitive(rule, type, value, extension);
    else if (value === null || value === undefined) this.report('error', 'structure', `${rule.id} cannot be null`);
    else if (type.kind === 'resource') this.nestedResource(rule, type, value);
    else this.complex(rule, type, value);
  }

  private primitive(rule: ElementRule, type: TypeRule, value: unknown, extension: unknown): void {
    const plan = rule.plan(type);
    if (value === undefined || value === null) {
      if (extension === undefined || extension === null) this.report('error', 'structure', `${rule.id} has neither a value nor an extension`);
      else if (rule.node.def.mustHaveValue) this.report('error', 'required', `${rule.id} requires a value, not only extensions (mustHaveValue)`);
    } else {
      const problem = checkPrimitive(plan.primitive!, value);
      if (problem) this.report('error', 'value', problem);
      else this.primitiveValue(rule, type, value, plan);
    }
    if (extension !== undefined && extension !== null) {
      if (!isObject(extension)) this.report('error', 'structure', `The _${type.key} companion must be an object`);
      else if (plan.structure) {
        this.hosts.push({ path: rule.node.def.path, type: type.code, value, depth: this.depth });
        this.object(extension, plan.structure);
        this.hosts.pop();
      }
    }
  }

  private primitiveValue(rule: ElementRule, type: TypeRule, value: unknown, plan: ItemPlan): void {
    if (rule.fixed && !matchesFixed(value, rule.fixed.value)) {
      this.report('error', 'value', `Value is ${describeValue(value)} but must be ${describeValue(rule.fixed.value)} (fixed in ${rule.id})`);
    }
    if (rule.pattern && value !== rule.pattern.value) {
      this.report('error', 'value', `Value is ${describeValue(value)} but must be ${describeValue(rule.pattern.value)} (pattern in ${rule.id})`);
    }
    if (rule.binding && typeof value === 'string') this.codeBinding(rule.binding, undefined, value);
    this.bounds(rule, value);
    if (typeof value === 'string') {
      if (value.charCodeAt(0) === 35 && (type.code === 'uri' || type.code === 'canonical' || type.code === 'url')) this.scope.localReferences.add(value);
      if (type.code === 'xhtml') {
        this.narrativeReferences(value);
        if (rule.node.def.narrative) this.narrativeControls(rule, value);
      } else this.textContent(type.code, value);
    }
    for (const { invariant } of plan.invariants) {
      const result = type.code === 'xhtml' ? this.narrativeVerdict(invariant, value as string) : invariant.evaluate(value, this.scope.resource, this.rootResource);
      if (result === false || (result === undefined && invariant.emptyFails)) this.invariantFailed(invariant);
    }
  }

  /** The optional checks of strings, markdown and URLs (see policy.ts). */
  private textContent(code: string, value: string): void {
    if (code === 'string' && looksLikeHtml(value)) {
      const text = 'The string value contains text that looks like embedded HTML tags';
      if (this.policy.securityChecks) this.report('error', 'security', `${text}, which are not allowed for security reasons in this context`);
      else this.report('information', 'security', `${text}. If this content is rendered to HTML without appropriate post-processing, it may be a security risk`);
    } else if (code === 'markdown' && this.policy.htmlInMarkdown !== 'ignore') {
      const at = embeddedHtmlAt(value);
      if (at >= 0) {
        const text = `The markdown contains content that appears to be an embedded HTML tag starting at '${value.slice(at, at + 2)}'. This will (or SHOULD) be escaped by the presentation layer`;
        this.report(this.policy.htmlInMarkdown, 'invalid', text);
      }
    } else if ((code === 'uri' || code === 'url' || code === 'canonical') && this.policy.exampleUrls === 'refuse' && isExampleUrl(value)) {
      this.report('error', 'invalid', `Example URLs are not allowed in this context (${value})`);
    }
  }

  private narrativeVerdict(invariant: Invariant, div: string): boolean | undefined {
    if (!/^htmlchecks\(\)$/i.test(invariant.expression)) return invariant.evaluate(div, this.scope.resource, this.rootResource);
    if (this.lastNarrative?.div !== div) this.lastNarrative = { div, holds: narrativeAllowed(this.version, div) };
    return this.lastNarrative.holds;
  }

  /** Narrative may be what refers to a contained resource (`<img src="#image"/>`). */
  private narrativeReferences(div: string): void {
    if (!div.includes('"#')) return;
    for (const match of div.matchAll(/\b(?:src|href)="(#[^"]+)"/g)) this.scope.localReferences.add(match[1]);
  }

  private complex(rule: ElementRule, type: TypeRule, value: unknown): void {
    if (!isObject(value)) {
      this.report('error', 'structure', `${rule.id} must be a JSON object, not ${describeValue(value)}`);
      return;
    }
    const plan = type.code === 'Extension' ? this.extensionPlan(rule, type, value) : rule.plan(type);
    if (rule.fixed || rule.pattern) this.fixedOrPattern(rule, value);
    if (rule.binding && (type.code === 'Coding' || type.code === 'CodeableConcept')) this.codingBinding(rule.binding, type.code, value);
    this.bounds(rule, value);
    if (plan.structure) {
      const url = type.code === 'Extension' && typeof value.url === 'string' ? value.url : undefined;
      this.hosts.push({ path: rule.node.def.path, type: type.code, value, url, depth: this.depth });
      this.object(value, plan.structure);
      this.hosts.pop();
    }
    if (type.code === 'Reference') this.reference(type, value);
    else if (type.code === 'Coding') this.codingSystem(value.system);
    else if (type.code === 'Extension') this.extensionRules(value);
    else if (type.code === 'Narrative' && rule.node.def.narrative && typeof value.div === 'string') this.narrativeControls(rule, value.div);
    else if (type.profiles.length > 1) this.profileChoice(type, value);
    this.invariants(value, plan);
  }

  /** What a profile requires of a narrative, stated on the Narrative element or on its div (narrative-controls.ts). */
  private narrativeControls(rule: ElementRule, div: string): void {
    for (const problem of narrativeControlProblems(rule.node.def.narrative!, div, this.scope.resource.language, rule.tree.definition.url)) {
      this.report(problem.severity, 'business-rule', problem.text);
    }
  }

  private bounds(rule: ElementRule, value: unknown): void {
    if (rule.minValue && outOfBound(value, rule.minValue, 'min')) {
      this.report('error', 'value', `Value ${describeValue(value)} is below the minimum ${describeValue(rule.minValue.value)} (minValue${rule.minValue.type})`);
    }
    if (rule.maxValue && outOfBound(value, rule.maxValue, 'max')) {
      this.report('error', 'value', `Value ${describeValue(value)} is above the maximum ${describeValue(rule.maxValue.value)} (maxValue${rule.maxValue.type})`);
    }
  }

  /** A type with several profiles: the value must meet at least one of them (when all are known). */
  private profileChoice(type: TypeRule, value: Json): void {
    const verdicts = type.profiles.map((url) => this.conforms(value, url));
    if (verdicts.includes(undefined)) return;
    if (!verdicts.includes(true)) {
      this.report('error', 'structure', `Unable to find a match for the specified profile among choices: ${type.profiles.join(', ')}`);
    }
  }

  private fixedOrPattern(rule: ElementRule, value: Json): void {
    const expected = rule.fixed ?? rule.pattern!;
    const matches = rule.fixed ? matchesFixed(value, expected.value) : matchesPattern(value, expected.value);
    if (matches) return;
    const replaced = replacedCode(value, expected.value);
    if (replaced) {
      const { predecessor, current } = replaced;
      this.report(
        'warning',
        'value',
        `Uses the pre-2022 ${replaced.label} code ${predecessor.system}|${predecessor.code}; the current profile requires ${current.system}|${current.code} (accepted for now)`,
      );
      return;
    }
    const kind = rule.fixed ? 'fixed value' : 'pattern';
    this.report('error', 'value', `Value does not match the ${kind} ${describeValue(expected.value)} required by ${rule.id}`);
  }

  /**
   * An invariant that reads none of the children present is decided without evaluating. An empty answer is a
   * failure when every element the expression reads is present (an indeterminate comparison, such as a date
   * against a dateTime, fails as in the HL7 validator) and not when one is missing (the expression did not apply).
   */
  private invariants(node: Json, plan: ItemPlan): void {
    for (const { invariant, keys, groups } of plan.invariants) {
      let holds: boolean;
      if (keys !== undefined && !anyPresent(node, keys)) holds = invariant.holdsWhenAbsent;
      else {
        const result = invariant.evaluate(node, this.scope.resource, this.rootResource);
        if (result !== undefined) holds = result;
        else if (groups) holds = !groups.every((group) => anyPresent(node, group));
        else holds = !invariant.emptyFails;
      }
      if (!holds) this.invariantFailed(invariant);
    }
  }

  private invariantFailed(invariant: Invariant): void {
    this.report(invariant.severity, 'invariant', `Constraint failed: ${invariant.key}: '${invariant.human}'`);
  }

  // ---- terminology

  private codeBinding(binding: RequiredBinding, system: string | undefined, code: string): void {
    const expansion = binding.expansion();
    if (expansion && !expansion.has(system, code)) {
      this.report('error', 'code-invalid', `The value '${code}' is not in the required value set ${binding.valueSet}`);
    }
  }

  /** A binding to units (UCUM only, as on vital signs' value[x]) is about Quantity units, not about coded values. */
  private codingBinding(binding: RequiredBinding, typeCode: string, value: Json): void {
    const expansion = binding.expansion();
    if (!expansion || expansion.onlyFrom('http://unitsofmeasure.org')) return;
    const codings = (typeCode === 'Coding' ? [value] : asList(value.coding)).filter(isObject);
    const coded = codings.filter((c) => typeof c.code === 'string');
    if (coded.length === 0) return;
    if (!coded.some((c) => expansion.has(typeof c.system === 'string' ? c.system : undefined, c.code as string))) {
      const shown = coded.map((c) => `${String(c.system ?? '')}|${String(c.code)}`).join(', ');
      this.report('error', 'code-invalid', `None of the codes (${shown}) are in the required value set ${binding.valueSet}`);
    }
  }

  /** A Coding's system names a code system by its absolute url, never a value set (the HL7 validator's rules). */
  private codingSystem(system: unknown): void {
    if (typeof system !== 'string') return;
    if (!isAbsoluteUrl(system)) {
      this.report('error', 'code-invalid', 'Coding.system must be an absolute reference, not a local reference', 'system');
    } else if (this.compiler.registry.valueSet(system) && !this.compiler.registry.codeSystem(system)) {
      this.report('error', 'code-invalid', `The Coding references a value set, not a code system ('${system}')`, 'system');
    }
  }

  // ---- references, extensions, nested resources

  private reference(type: TypeRule, value: Json): void {
    const reference = value.reference;
    if (typeof reference !== 'string') return;
    let targetType: string | undefined;
    if (reference.charCodeAt(0) === 35) {
      this.scope.localReferences.add(reference);
      if (reference.length === 1) return;
      const contained = this.scope.contained.get(reference.slice(1));
      if (!contained) {
        this.report('error', 'invariant', `Constraint failed: ref-1: the reference ${reference} does not resolve to a contained resource`);
        return;
      }
      targetType = String(contained.resourceType);
    } else {
      targetType = referenceType(reference);
    }
    const allowed = this.compiler.targetTypes(type);
    if (targetType && allowed && !allowed.has(targetType)) {
      this.report('error', 'structure', `The type '${targetType}' of reference ${reference} is not a valid target here (allowed: ${[...allowed].join(', ')})`);
    }
    if (reference.charCodeAt(0) === 35) return;
    if (this.inParameters()) {
      // Without the policy a reference that resolves to no parameter may name a resource elsewhere: nothing to record.
      if (this.policy.unresolvedReferences === 'refuse' && ParametersContext.resolves(reference)) {
        this.parameters!.references.push({ reference, expression: this.expression(), entry: -1, allowed });
      }
    } else if (this.bundle) {
      this.bundle.references.push({ reference, expression: this.expression(), entry: this.currentEntry(), allowed });
    }
  }

  /** Whether the innermost resource that groups others is a Parameters resource (not a Bundle). */
  private inParameters(): boolean {
    return this.parameters !== undefined && this.parametersDepth > this.bundleDepth;
  }

  private currentEntry(): number {
    const level = this.bundleDepth;
    return this.names[level] === 'entry' ? this.indexes[level] : -1;
  }

  /** Whether a resource or datatype meets a profile, walked apart from this walk; undefined when the profile is not known. */
  private conforms(value: unknown, profile: string): boolean | undefined {
    const root = this.compiler.root(profile);
    if (!root || !isObject(value)) return root ? false : undefined;
    const probe = new Walker(this.compiler, this.version, this.unknownExtensions, this.policy);
    if (typeof value.resourceType === 'string') {
      if (value.resourceType !== root.tree.definition.type) return false;
      probe.rootResource = this.rootResource;
      probe.resource(value, [profile], 'entry');
    } else {
      [probe.scope, probe.rootResource] = [this.scope, this.rootResource];
      const plan = root.plan();
      if (plan.structure) probe.object(value, plan.structure);
      probe.invariants(value, plan);
    }
    return !probe.issues.some((found) => found.severity === 'error' || found.severity === 'fatal');
  }

  private resolve(reference: string): Resource | undefined {
    if (reference.charCodeAt(0) === 35) return this.scope.contained.get(reference.slice(1)) as Resource | undefined;
    if (this.inParameters()) return this.parameters!.resolve(reference) as Resource | undefined;
    const matches = this.bundle?.resolve(reference, this.currentEntry());
    return matches?.length === 1 ? matches[0].resource : undefined;
  }

  /** An extension follows its definition (looked up by url) unless a profile's slice already spells it out. */
  private extensionPlan(rule: ElementRule, type: TypeRule, value: Json): ItemPlan {
    if (rule.children()) return rule.plan(type);
    const url = value.url;
    if (typeof url === 'string' && url.includes(':')) {
      const definition = this.compiler.root(url);
      if (definition?.tree.definition.type === 'Extension') {
        this.extensionContext(definition.tree.definition);
        return definition.plan();
      }
      this.unknownExtension(url, rule.name === 'modifierExtension');
    }
    return rule.plan(type);
  }

  /**
   * An extension without a definition is not allowed (the HL7 validator's rule), except where its definition is
   * known to exist but is not installed here: then it is noted, and its content checked as a plain extension.
   * Any other is refused, or with `unknownExtensions: 'allow'` (the server) a warning.
   */
  private unknownExtension(url: string, modifier: boolean): void {
    if (CROSS_VERSION_EXTENSION.test(url)) {
      this.report('information', 'informational', `Extension ${url} stands for an element of another FHIR release, whose definitions are not installed: its content was checked as a plain extension`);
      return;
    }
    if (EXAMPLE_EXTENSION.test(url) && !(this.policy.exampleUrls === 'refuse' && isExampleUrl(url))) {
      this.report('information', 'informational', `Unknown extension ${url} (an example domain): its content was checked as a plain extension`);
      return;
    }
    if (modifier) {
      this.report('error', 'extension', `Unknown modifier extension ${url}: a modifier changes the meaning of what it is on and cannot be ignored`);
      return;
    }
    // The core package's implicit dependency, HL7's extensions package (hl7.fhir.uv.extensions.r4/.r3), is not installed.
    if (url.startsWith(CORE_PREFIX)) {
      this.report('warning', 'informational', `Unknown extension ${url}: its definition comes with the HL7 extensions package, which is not installed, so its content was checked as a plain extension`);
      return;
    }
    const notInstalled = this.packageNotInstalled(url);
    if (notInstalled) {
      this.report('information', 'informational', `Unknown extension ${url}: its definition may come with ${notInstalled}, which is not installed, so its content was checked as a plain extension`);
      return;
    }
    if (this.unknownExtensions === 'allow') {
      this.report('warning', 'extension', `Unknown extension ${url}: allowed here, so its content was checked as a plain extension`);
      return;
    }
    this.report('error', 'extension', `The extension ${url} could not be found so is not allowed here`);
  }

  /**
   * The package an unknown extension's definition would come with, when the installed packages' metadata show that
   * package to exist and it is not installed: a dependency of an installed package of this release, when that
   * package uses canonicals of the extension's namespace that it does not define (the eOverdracht package depends on
   * zib2017 and uses its `http://nictiz.nl/fhir/…` and `http://fhir.nl/fhir/…` profiles: those extensions are noted
   * in STU3); the package of a loaded profile that uses the extension (nl-generic-functions-ig's eOverdracht-Task
   * and its two Nuts extensions); or the package of a declared profile that is not known here, when the profile lies
   * under the canonical base of an installed package of any release (the nl-core R4 profiles and extensions share
   * `http://nictiz.nl/fhir` with the STU3 eOverdracht package). Other canonicals are not known to be defined anywhere.
   */
  private packageNotInstalled(url: string): string | undefined {
    const registry = this.compiler.registry;
    const namespace = publisherNamespace(url);
    const missing = registry.missingPackagesOf(namespace);
    if (missing) return `${missing} (a dependency of an installed package, which uses canonicals of ${namespace})`;
    if (registry.usesExtension(url)) return 'the package of the loaded profiles that use it';
    const publisher = registry.packagesWithBase(namespace);
    const profile = publisher && this.scope.unknownProfiles.find((declared) => publisherNamespace(declared) === namespace);
    return profile && `the ${this.version.toUpperCase()} package of the declared profile ${profile} (the canonical base of ${publisher})`;
  }

  private extensionContext(definition: StructureDefinition): void {
    const frame = this.hosts.at(-1);
    if (!frame || (!definition.contexts?.length && !definition.contextInvariants?.length)) return;
    // Example, fixed and pattern values in a definition stand for elements elsewhere: their extensions are not judged here.
    if (VALUE_IN_DEFINITION.test(frame.path)) return;
    const contexts = this.compiler.extensionContexts;
    if (contexts.allowsDirectly(definition, frame.path, frame.type, this.compiler.typeAncestors(frame.type))) return;
    const outer = this.hosts.at(-2);
    const url = frame.url ?? (frame.path.startsWith('Extension.value') ? outer?.url : undefined);
    const host = { names: this.hostNames(frame), type: frame.type, value: frame.value, url };
    const problem = contexts.problem(definition, host, this.scope.resource);
    if (problem) this.report('error', 'business-rule', problem);
  }

  /** A host's element paths (by definition and in the instance, also from the resource's ancestors), its type and that type's ancestors. */
  private hostNames(frame: HostFrame): Set<string> {
    const names = new Set([frame.path, frame.type, ...this.compiler.typeAncestors(frame.type)]);
    const resourceType = String(this.scope.resource.resourceType);
    const steps: string[] = [];
    for (let i = this.scopeStart; i < frame.depth; i++) steps.push(this.names[i].replace(/\.ofType\(.*\)$/, ''));
    const instance = [resourceType, ...steps].join('.');
    names.add(instance);
    for (const ancestor of this.compiler.typeAncestors(resourceType)) {
      names.add(ancestor + instance.slice(resourceType.length));
      if (frame.path.startsWith(`${resourceType}.`)) names.add(ancestor + frame.path.slice(resourceType.length));
    }
    return names;
  }

  /** ext-1: an extension has either a value or nested extensions, never both, never neither. */
  private extensionRules(value: Json): void {
    let hasValue = false;
    for (const key in value) {
      if (key.length > 5 && key.startsWith('value') && key.charCodeAt(5) >= 65 && key.charCodeAt(5) <= 90) hasValue = true;
    }
    const hasExtensions = Array.isArray(value.extension) && value.extension.length > 0;
    if (hasValue === hasExtensions) {
      this.report('error', 'invariant', "Constraint failed: ext-1: 'Must have either extensions or value[x], not both'");
    }
  }

  /** A resource inside another (contained, a Bundle entry, a parameter): walked on its own, against its type's profile when it has one. */
  private nestedResource(rule: ElementRule, type: TypeRule, value: unknown): void {
    if (!isObject(value) || typeof value.resourceType !== 'string') {
      this.report('error', 'structure', `${rule.id} must hold a resource with a resourceType`);
      return;
    }
    if (rule.name === 'contained' && this.policy.containedResources === 'ignore') return;
    const profiles = type.profiles.length === 1 && this.compiler.root(type.profiles[0]) ? type.profiles : [];
    this.resource(value, profiles, rule.name === 'contained' ? 'contained' : 'entry');
    if (type.profiles.length > 1) this.profileChoice(type, value);
  }
}

/** A complex extension defines its sub-extensions: one with a relative url it does not define is an error (as in the HL7 validator). */
function isUndefinedSubExtension(rule: ElementRule, value: unknown): boolean {
  if (rule.node.def.path !== 'Extension.extension' || !isObject(value)) return false;
  return typeof value.url === 'string' && !value.url.includes(':');
}

function anyPresent(node: Json, keys: string[]): boolean {
  for (let i = 0; i < keys.length; i++) if (node[keys[i]] !== undefined) return true;
  return false;
}

/** How many of a rule's keys an object has (with their `_x` companions when asked). */
function countPresent(obj: Json, rule: ElementRule, withCompanions: boolean): number {
  let count = 0;
  for (const type of rule.types) {
    if (obj[type.key] !== undefined || (withCompanions && obj[type.companion] !== undefined)) count++;
  }
  return count;
}

const NONE_CONTAINED: ReadonlyMap<string, Json> = new Map();
const NO_PROFILES: string[] = [];

function containedById(resource: Json): ReadonlyMap<string, Json> {
  if (!Array.isArray(resource.contained)) return NONE_CONTAINED;
  const byId = new Map<string, Json>();
  for (const contained of resource.contained) if (isObject(contained) && typeof contained.id === 'string') byId.set(contained.id, contained);
  return byId;
}
