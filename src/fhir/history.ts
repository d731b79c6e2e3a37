import type { Resource } from './version.js';

/** What a FHIR history interaction asks for and the versions it answers. */

export interface HistoryEntry {
  resource?: Resource;
  /** For deletions: the type, id and version of the deletion marker. */
  resourceType: string;
  id: string;
  versionId: string;
  lastUpdated: string;
  method: 'POST' | 'PUT' | 'DELETE';
  /** Where this version stands in the newest-first order (opaque): the next page starts after it. */
  position: string;
}

export interface HistoryRequest {
  resourceType?: string;
  id?: string;
  since?: string;
  /** Only versions older than this `position` (the last entry of the previous page). */
  after?: string;
  count: number;
}

/** A history position: the version's time and its write sequence (versions of one millisecond in write order). */
export function historyPosition(lastUpdatedMs: number, seq: number): string {
  return `${lastUpdatedMs}.${seq}`;
}

export function parseHistoryPosition(position: string): { lastUpdatedMs: number; seq: number } | undefined {
  const match = /^(\d{1,16})\.(\d{1,17})$/.exec(position);
  return match ? { lastUpdatedMs: Number(match[1]), seq: Number(match[2]) } : undefined;
}
