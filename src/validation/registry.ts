import type { FhirVersion } from '../fhir/version.js';
import type { CodeSystem, StructureDefinition, ValueSet } from './definitions.js';

/**
 * Compares business versions: numeric parts numerically, and a pre-release (`1.0.0-rc.23`) below its release,
 * so that a bare canonical resolves to the latest version as FHIR prescribes.
 */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  const [mainA, preA] = splitPreRelease(a);
  const [mainB, preB] = splitPreRelease(b);
  const partsA = mainA.split('.');
  const partsB = mainB.split('.');
  for (let i = 0; i < Math.max(partsA.length, partsB.length); i++) {
    const order = comparePart(partsA[i] ?? '0', partsB[i] ?? '0');
    if (order !== 0) return order;
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA.localeCompare(preB, 'en', { numeric: true });
}

function splitPreRelease(version: string): [string, string | undefined] {
  const dash = version.indexOf('-');
  return dash < 0 ? [version, undefined] : [version.slice(0, dash), version.slice(dash + 1)];
}

function comparePart(a: string, b: string): number {
  const numberA = Number(a);
  const numberB = Number(b);
  if (Number.isInteger(numberA) && Number.isInteger(numberB)) return numberA - numberB;
  return a.localeCompare(b);
}

/** A definition known by its canonical before it is read: it is read (and normalized) when first asked for. */
export interface Pending<T> {
  version?: string;
  read: () => T;
}

class Held<T> {
  private value?: T;
  constructor(
    readonly version: string | undefined,
    private read?: () => T,
    value?: T,
  ) {
    this.value = value;
  }

  get(): T {
    if (this.value === undefined) {
      this.value = this.read!();
      this.read = undefined;
    }
    return this.value;
  }
}

/**
 * The conformance resources one validator knows: the release's base definitions (shared between validators,
 * never changed, read when first needed) with the profiles from packages and folders layered on top. Definitions
 * are held by canonical and read on first use, so the memory they take is that of what is validated.
 */
export class Registry {
  private readonly structures = new Map<string, Held<StructureDefinition>[]>();
  private readonly valueSets = new Map<string, Held<ValueSet>>();
  private readonly codeSystems = new Map<string, Held<CodeSystem>>();
  /** Dependencies of installed packages that are not installed, with the publisher namespaces they must define (read when first asked). */
  private readonly missingPackages: { names: string[]; readNamespaces: () => Set<string>; namespaces?: Set<string> }[] = [];
  /** Canonical bases (as publisher namespaces) of the packages installed here, of any release, with their names. */
  private readonly packageBases = new Map<string, Set<string>>();
  private extensionsUsed?: Set<string>;
  private base?: Registry;

  /** `base` is a registry or how to get it: it is asked for on the first canonical this layer does not have. */
  constructor(
    readonly version: FhirVersion,
    private readonly baseSource?: Registry | (() => Registry),
  ) {}

  addStructure(definition: StructureDefinition | (Pending<StructureDefinition> & { url: string })): void {
    const held = 'read' in definition ? new Held(definition.version, definition.read) : new Held(definition.version, undefined, definition);
    const versions = this.structures.get(definition.url) ?? [];
    versions.push(held);
    versions.sort((a, b) => compareVersions(b.version, a.version));
    this.structures.set(definition.url, versions);
  }

  addValueSet(url: string, valueSet: ValueSet | (() => ValueSet)): void {
    this.valueSets.set(url, typeof valueSet === 'function' ? new Held(undefined, valueSet) : new Held(undefined, undefined, valueSet));
  }

  addCodeSystem(url: string, codeSystem: CodeSystem | (() => CodeSystem)): void {
    this.codeSystems.set(url, typeof codeSystem === 'function' ? new Held(undefined, codeSystem) : new Held(undefined, undefined, codeSystem));
  }

  /**
   * An installed package depends on packages that are not installed; `namespaces` tells (when first asked) the
   * publisher namespaces of the canonicals it uses but does not define, which those packages must define.
   */
  addMissingPackages(names: string[], namespaces: () => Set<string>): void {
    this.missingPackages.push({ names, readNamespaces: namespaces });
  }

  /** The packages that installed packages depend on, that are not installed, and that define canonicals of `namespace`; or undefined. */
  missingPackagesOf(namespace: string): string | undefined {
    const names = new Set<string>();
    for (const missing of this.missingPackages) {
      missing.namespaces ??= missing.readNamespaces();
      if (missing.namespaces.has(namespace)) for (const name of missing.names) names.add(name);
    }
    return names.size ? [...names].join(', ') : undefined;
  }

  /** Whether a profile loaded into this layer uses `url` as an extension (read when first asked). */
  usesExtension(url: string): boolean {
    this.extensionsUsed ??= new Set(
      this.ownStructureUrls().flatMap((canonical) =>
        this.ownVersions(canonical).flatMap((definition) =>
          [...(definition.differential ?? []), ...(definition.snapshot ?? [])].flatMap((element) =>
            (element.types ?? []).filter((type) => type.code === 'Extension').flatMap((type) => type.profiles.map((profile) => profile.split('|')[0])),
          ),
        ),
      ),
    );
    return this.extensionsUsed.has(url);
  }

  /** A package is installed here (for this release or another) whose `canonical` is `namespace`. */
  addPackageBase(namespace: string, name: string): void {
    const names = this.packageBases.get(namespace) ?? new Set();
    this.packageBases.set(namespace, names.add(name));
  }

  /** The installed packages (of any release) whose canonical base is `namespace`, or undefined. */
  packagesWithBase(namespace: string): string | undefined {
    const names = this.packageBases.get(namespace);
    return names ? [...names].join(', ') : undefined;
  }

  /** A StructureDefinition by canonical, `url|version` picking that version (`|0.2`: the latest 0.2.x), a bare url the latest. */
  structure(canonical: string): StructureDefinition | undefined {
    const [url, version] = canonical.split('|');
    const versions = this.structures.get(url);
    if (versions) {
      const found = version === undefined ? versions[0] : versions.find((d) => d.version === version || d.version?.startsWith(`${version}.`));
      if (found) return found.get();
    }
    return this.below()?.structure(canonical);
  }

  /** Every version of a canonical loaded into this layer (not the base), newest first. */
  ownVersions(url: string): StructureDefinition[] {
    return (this.structures.get(url) ?? []).map((held) => held.get());
  }

  valueSet(url: string): ValueSet | undefined {
    return this.valueSets.get(url.split('|')[0])?.get() ?? this.below()?.valueSet(url);
  }

  codeSystem(url: string): CodeSystem | undefined {
    return this.codeSystems.get(url.split('|')[0])?.get() ?? this.below()?.codeSystem(url);
  }

  /** Canonical urls of the profiles loaded into this layer (not the base definitions). */
  ownStructureUrls(): string[] {
    return [...this.structures.keys()];
  }

  /** Whether this layer holds more than one version of a canonical (without reading them). */
  ownVersionCount(url: string): number {
    return this.structures.get(url)?.length ?? 0;
  }

  private below(): Registry | undefined {
    if (!this.base && this.baseSource) this.base = typeof this.baseSource === 'function' ? this.baseSource() : this.baseSource;
    return this.base;
  }
}
