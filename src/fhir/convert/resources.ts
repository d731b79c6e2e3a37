import { compact, isEmpty, type Json } from './json.js';
import { asList, isObject } from '../../vocabulary/json.js';
import type { CodeSystemCodes, Rule } from './rules.js';

/** Resource-specific differences that need more than a rename. */

export const CONDITION_CLINICAL: CodeSystemCodes = {
  system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  displays: {
    active: 'Active',
    recurrence: 'Recurrence',
    relapse: 'Relapse',
    inactive: 'Inactive',
    remission: 'Remission',
    resolved: 'Resolved',
  },
  toStu3: { relapse: 'recurrence' },
};

export const CONDITION_VERIFICATION: CodeSystemCodes = {
  system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  displays: {
    unconfirmed: 'Unconfirmed',
    provisional: 'Provisional',
    differential: 'Differential',
    confirmed: 'Confirmed',
    refuted: 'Refuted',
    'entered-in-error': 'Entered in Error',
  },
  toR4: { unknown: 'unconfirmed' },
  toStu3: { unconfirmed: 'unknown' },
};

export const ALLERGY_CLINICAL: CodeSystemCodes = {
  system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
  displays: { active: 'Active', inactive: 'Inactive', resolved: 'Resolved' },
};

export const ALLERGY_VERIFICATION: CodeSystemCodes = {
  system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
  displays: { unconfirmed: 'Unconfirmed', confirmed: 'Confirmed', refuted: 'Refuted', 'entered-in-error': 'Entered in Error' },
};

/** Observation.comment (STU3) is the text of a single Observation.note (R4). */
export const observationComment: Rule = {
  stu3: ['comment'],
  r4: ['note'],
  toR4(slice, context) {
    const hidden = isObject(slice._comment) ? context.datatype(slice._comment, 'Element') : undefined;
    const note = compact({ text: slice.comment, _text: hidden });
    return isEmpty(note) ? {} : { note: [note] };
  },
  toStu3(slice, context) {
    const [first] = asList(slice.note);
    if (!isObject(first)) return {};
    const note = context.datatype(first, 'Annotation');
    return compact({ comment: note.text, _comment: note._text });
  },
};

const RELATED_ELEMENTS: Record<string, string> = { 'has-member': 'hasMember', 'derived-from': 'derivedFrom' };

/** Observation.related (STU3) of type has-member and derived-from became Observation.hasMember and derivedFrom (R4). */
export const observationRelated: Rule = {
  stu3: ['related'],
  r4: ['hasMember', 'derivedFrom'],
  toR4(slice, context) {
    const result: Record<string, Json[]> = {};
    for (const related of asList(slice.related)) {
      if (!isObject(related) || typeof related.type !== 'string') continue;
      const element = RELATED_ELEMENTS[related.type];
      if (element) (result[element] ??= []).push(context.datatype(related.target, 'Reference'));
    }
    return result;
  },
  toStu3(slice, context) {
    const related = Object.entries(RELATED_ELEMENTS).flatMap(([type, element]) =>
      asList(slice[element]).map((target) => ({ type, target: context.datatype(target, 'Reference') })),
    );
    return related.length ? { related } : {};
  },
};

const PROCEDURE_STATUS_TO_R4: Record<string, string> = { suspended: 'on-hold', aborted: 'stopped' };
const PROCEDURE_STATUS_TO_STU3: Record<string, string> = { 'on-hold': 'suspended', stopped: 'aborted', 'not-done': 'unknown' };

/** Procedure.notDone (STU3) became status `not-done` (R4), notDoneReason became statusReason; two statuses were renamed. */
export const procedureStatus: Rule = {
  stu3: ['status', 'notDone', 'notDoneReason'],
  r4: ['status', 'statusReason'],
  toR4(slice, context) {
    const result = { ...context.move(slice, 'status', 'status'), ...context.move(slice, 'notDoneReason', 'statusReason') };
    if (slice.notDone === true) result.status = 'not-done';
    else if (typeof slice.status === 'string') result.status = PROCEDURE_STATUS_TO_R4[slice.status] ?? slice.status;
    return result;
  },
  toStu3(slice, context) {
    const result = context.move(slice, 'status', 'status');
    if (typeof slice.status === 'string') result.status = PROCEDURE_STATUS_TO_STU3[slice.status] ?? slice.status;
    if (slice.status === 'not-done') Object.assign(result, { notDone: true }, context.move(slice, 'statusReason', 'notDoneReason'));
    return result;
  },
};

const COVERAGE_CLASS = 'http://terminology.hl7.org/CodeSystem/coverage-class';
/** STU3 Coverage.grouping field → R4 coverage-class code; `<field>Display` is the class name. */
const GROUPING_CLASSES: Record<string, string> = {
  group: 'group',
  subGroup: 'subgroup',
  plan: 'plan',
  subPlan: 'subplan',
  class: 'class',
  subClass: 'subclass',
};

/** Coverage.grouping (STU3) became a list of typed Coverage.class entries (R4). */
export const coverageGrouping: Rule = {
  stu3: ['grouping'],
  r4: ['class'],
  toR4(slice) {
    const grouping = isObject(slice.grouping) ? slice.grouping : {};
    const classes = Object.entries(GROUPING_CLASSES)
      .filter(([field]) => grouping[field] !== undefined || grouping[`${field}Display`] !== undefined)
      .map(([field, code]) =>
        compact({ type: { coding: [{ system: COVERAGE_CLASS, code }] }, value: grouping[field], name: grouping[`${field}Display`] }),
      );
    return classes.length ? { class: classes } : {};
  },
  toStu3(slice) {
    const grouping: Json = {};
    for (const item of asList(slice.class)) {
      const coding = isObject(item) ? (asList((item.type as Json | undefined)?.coding)[0] as Json | undefined) : undefined;
      const field = Object.keys(GROUPING_CLASSES).find((f) => coding?.system === COVERAGE_CLASS && GROUPING_CLASSES[f] === coding.code);
      if (!field || !isObject(item) || grouping[field] !== undefined) continue;
      Object.assign(grouping, compact({ [field]: item.value, [`${field}Display`]: item.name }));
    }
    return isEmpty(grouping) ? {} : { grouping };
  },
};

/** Device.version (STU3) is one string; R4 has a list of typed versions, the untyped one of which carries it. */
export const deviceVersion: Rule = {
  stu3: ['version'],
  r4: ['version'],
  toR4(slice, context) {
    const hidden = isObject(slice._version) ? context.datatype(slice._version, 'Element') : undefined;
    const version = compact({ value: slice.version, _value: hidden });
    return isEmpty(version) ? {} : { version: [version] };
  },
  toStu3(slice, context) {
    const [first] = asList(slice.version);
    if (!isObject(first)) return {};
    const hidden = isObject(first._value) ? context.datatype(first._value, 'Element') : undefined;
    return compact({ version: first.value, _version: hidden });
  },
};
