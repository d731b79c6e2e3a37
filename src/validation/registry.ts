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

/**
 * The conformance resources one validator knows: the release's base definitions (shared between validators,
 * never changed) with the profiles loaded from folders layered on top.
 */
export class Registry {
  private readonly structures = new Map<string, StructureDefinition[]>();
  private readonly valueSets = new Map<string, ValueSet>();
  private readonly codeSystems = new Map<string, CodeSystem>();

  constructor(
    readonly version: FhirVersion,
    private readonly base?: Registry,
  ) {}

  addStructure(definition: StructureDefinition): void {
    const versions = this.structures.get(definition.url) ?? [];
    versions.push(definition);
    versions.sort((a, b) => compareVersions(b.version, a.version));
    this.structures.set(definition.url, versions);
  }

  addValueSet(valueSet: ValueSet): void {
    this.valueSets.set(valueSet.url, valueSet);
  }

  addCodeSystem(codeSystem: CodeSystem): void {
    this.codeSystems.set(codeSystem.url, codeSystem);
  }

  /** A StructureDefinition by canonical, `url|version` picking that version (`|0.2`: the latest 0.2.x), a bare url the latest. */
  structure(canonical: string): StructureDefinition | undefined {
    const [url, version] = canonical.split('|');
    const versions = this.structures.get(url);
    if (versions) {
      const found = version === undefined ? versions[0] : versions.find((d) => d.version === version || d.version?.startsWith(`${version}.`));
      if (found) return found;
    }
    return this.base?.structure(canonical);
  }

  /** Every version of a canonical loaded into this layer (not the base), newest first. */
  ownVersions(url: string): StructureDefinition[] {
    return this.structures.get(url) ?? [];
  }

  valueSet(url: string): ValueSet | undefined {
    return this.valueSets.get(url.split('|')[0]) ?? this.base?.valueSet(url);
  }

  codeSystem(url: string): CodeSystem | undefined {
    return this.codeSystems.get(url.split('|')[0]) ?? this.base?.codeSystem(url);
  }

  /** Canonical urls of the StructureDefinitions in this layer and below. */
  structureUrls(): string[] {
    return [...new Set([...(this.base?.structureUrls() ?? []), ...this.structures.keys()])];
  }

  /** Canonical urls of the profiles loaded into this layer (not the base definitions). */
  ownStructureUrls(): string[] {
    return [...this.structures.keys()];
  }
}
