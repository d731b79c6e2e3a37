import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

/** The folders of src/ import downwards only (a DAG of folders), by the layers written down in layers.json. */
interface Layering {
  layers: { folders: string[]; what: string }[];
  withoutExpress: string[];
  /** Known breaches, each until the named work removes it. */
  pending: { file: string; imports: string; until: string }[];
}

/** One import of a file under src/: `to` is the folder (or root file) it reaches, or the package it names. */
interface Import {
  file: string;
  from: string;
  to: string;
  specifier: string;
}

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const layering = JSON.parse(readFileSync(new URL('./layers.json', import.meta.url), 'utf8')) as Layering;

/** A file's node in the folder graph: the first folder under src/, or the file itself at the root of src/. */
const nodeOf = (file: string): string => file.split('/')[0];

const packageOf = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

const sourceFiles = (): string[] =>
  readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .map((file) => file.split(path.sep).join('/'))
    .filter((file) => file.endsWith('.ts'));

/** Static `import`/`export ... from` and dynamic `import()`, as TypeScript's own pre-processor reads them. */
function importsOf(file: string): Import[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(path.join(SRC, file), 'utf8'), true, true);
  return importedFiles.map(({ fileName: specifier }) => {
    const to = specifier.startsWith('.') ? nodeOf(path.posix.join(path.posix.dirname(file), specifier)) : packageOf(specifier);
    return { file, from: nodeOf(file), to, specifier };
  });
}

const isPending = (found: Import): boolean => layering.pending.some((entry) => entry.file === found.file && entry.imports === found.to);

const files = sourceFiles();
const imports = files.flatMap(importsOf);
const nodes = new Set(files.map(nodeOf));
const betweenFolders = imports.filter((found) => nodes.has(found.to) && found.to !== found.from && !isPending(found));
const layerOf = new Map(layering.layers.flatMap((layer, index) => layer.folders.map((folder) => [folder, index] as const)));

/** The first cycle of the folder graph as `a → b → a`, each step with one import that makes it; empty when acyclic. */
function firstCycle(): string[] {
  const edges = new Map<string, Map<string, Import>>();
  for (const found of betweenFolders) {
    const targets = edges.get(found.from) ?? new Map<string, Import>();
    if (!targets.has(found.to)) targets.set(found.to, found);
    edges.set(found.from, targets);
  }
  const done = new Set<string>();
  const trail: Import[] = [];
  const onPath = (node: string) => trail.some((step) => step.from === node);
  const visit = (node: string): Import[] | undefined => {
    if (done.has(node)) return undefined;
    for (const [target, step] of edges.get(node) ?? []) {
      if (onPath(target) || target === node) return [...trail.slice(trail.findIndex((earlier) => earlier.from === target)), step];
      trail.push(step);
      const cycle = visit(target);
      trail.pop();
      if (cycle) return cycle;
    }
    done.add(node);
    return undefined;
  };
  for (const node of nodes) {
    const cycle = visit(node);
    if (cycle) return cycle.map((step) => `${step.from} → ${step.to} (${step.file} imports '${step.specifier}')`);
  }
  return [];
}

describe('the folders of src/', () => {
  // The checks below look for bad imports only; they would pass on a reader that finds none at all.
  it('are read with their imports: between folders, and of packages such as express', () => {
    expect(betweenFolders.length).toBeGreaterThan(50);
    expect(imports.some((found) => found.to === 'express')).toBe(true);
  });

  it('each have one layer in test/architecture/layers.json', () => {
    const listed = layering.layers.flatMap((layer) => layer.folders);
    expect([...nodes].filter((node) => !layerOf.has(node))).toEqual([]);
    expect(listed.filter((folder, index) => listed.indexOf(folder) !== index)).toEqual([]);
  });

  it('import each other without a cycle', () => {
    expect(firstCycle()).toEqual([]);
  });

  it('import only folders of a lower layer (nothing imports main.ts)', () => {
    const upwards = betweenFolders.filter((found) => layerOf.get(found.to)! <= layerOf.get(found.from)!);
    expect(upwards.map((found) => `${found.file} imports '${found.specifier}' (${found.to})`)).toEqual([]);
  });

  it('keep express out of the domain folders', () => {
    const express = imports.filter((found) => found.to === 'express' && layering.withoutExpress.includes(found.from) && !isPending(found));
    expect(express.map((found) => found.file)).toEqual([]);
  });

  it('list as pending only breaches that still exist', () => {
    const stale = layering.pending.filter((entry) => !imports.some((found) => found.file === entry.file && found.to === entry.imports));
    expect(stale).toEqual([]);
  });
});
