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
}

export interface HistoryRequest {
  resourceType?: string;
  id?: string;
  since?: string;
  count: number;
}
