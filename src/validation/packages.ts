import { gunzipSync } from 'node:zlib';

/**
 * FHIR packages (https://hl7.org/fhir/packages.html) as the package registry distributes them: a gzipped tar whose
 * `package/` folder holds `package.json`, an optional `.index.json` and one JSON file per resource. The gateway reads
 * them from `profiles/packages/` (its defaults) and from any `profiles.folders` entry, so a vendor can drop in a
 * package downloaded from the registry as it is.
 */
export interface PackageManifest {
  name: string;
  version: string;
  fhirVersions: string[];
  dependencies: Record<string, string>;
  /** The canonical base of the package's resources (`http://nictiz.nl/fhir`). */
  canonical?: string;
  license?: string;
}

/** What `.index.json` says about one file, or what reading the file told when there is no index. */
export interface PackageEntry {
  filename: string;
  resourceType: string;
  url?: string;
  version?: string;
  type?: string;
}

export interface FhirPackage {
  manifest: PackageManifest;
  entries: PackageEntry[];
  /** The text of a file under `package/`. */
  read(filename: string): string;
}

type Json = Record<string, unknown>;

const BLOCK = 512;

/** The files of a tar archive (ustar; GNU long names), by path. */
function untar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) => header.toString('latin1', start, start + length).replace(/\0.*$/s, '');
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const body = archive.subarray(offset + BLOCK, offset + BLOCK + size);
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    if (type === '0' || type === '') files.set(name.replace(/^\.\//, ''), body);
  }
  return files;
}

/** Reads a package `.tgz`; throws when it is not one (no package/package.json). */
export function readPackage(tgz: Buffer): FhirPackage {
  const files = untar(gunzipSync(tgz));
  const text = (filename: string) => {
    const file = files.get(`package/${filename}`);
    if (!file) throw new Error(`package/${filename} is not in the package`);
    return file.toString('utf8').replace(/^\uFEFF/, '');
  };
  const raw = JSON.parse(text('package.json')) as Json;
  const manifest: PackageManifest = {
    name: String(raw.name),
    version: String(raw.version),
    fhirVersions: ((raw.fhirVersions ?? raw['fhir-version-list'] ?? []) as string[]).map(String),
    dependencies: (raw.dependencies ?? {}) as Record<string, string>,
    canonical: typeof raw.canonical === 'string' ? raw.canonical : undefined,
    license: typeof raw.license === 'string' ? raw.license : undefined,
  };
  const entries = files.has('package/.index.json')
    ? ((JSON.parse(text('.index.json')) as Json).files as PackageEntry[])
    : indexFiles(files, text);
  return { manifest, entries, read: text };
}

/** A package without `.index.json` is indexed by reading each of its JSON files once. */
function indexFiles(files: Map<string, Buffer>, text: (filename: string) => string): PackageEntry[] {
  const entries: PackageEntry[] = [];
  for (const name of files.keys()) {
    const filename = name.slice('package/'.length);
    if (!name.startsWith('package/') || filename.includes('/') || !filename.endsWith('.json') || filename === 'package.json') continue;
    const resource = JSON.parse(text(filename)) as Json;
    if (typeof resource.resourceType !== 'string') continue;
    entries.push({
      filename,
      resourceType: resource.resourceType,
      url: resource.url as string | undefined,
      version: resource.version as string | undefined,
      type: resource.type as string | undefined,
    });
  }
  return entries;
}
