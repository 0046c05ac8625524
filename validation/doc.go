// Package validation decides what a database may hold: a Validator judges
// every document a local write produces, and every change a remote delta
// brings, before anything is stored or merged. Access controllers decide
// who may write; validators decide what.
//
// A database names its validator in its manifest (Config), so the address
// pins the rules, exactly as it pins the access controller. The built-in
// validator is JSON Schema (draft 2020-12), one schema per collection:
//
//	{"type": "jsonschema", "params": {"schemas": {"todos": {
//	    "type": "object",
//	    "properties": {
//	        "title":  {"type": "string", "maxLength": 1000},
//	        "isDone": {"type": "boolean"}
//	    },
//	    "required": ["title"]
//	}}}}
//
// Custom validators are registered by type name on a plugins.Registry and
// prove themselves with validationtest.Run.
//
// # Schema changes
//
// On a database whose access controller is dynamic, admins change a
// collection's schema after creation (engine.Database.SetSchema, POST
// /v1/databases/schema). A change is a SchemaEntry: the collection, the
// schema, a version on the controller's Lamport clock, the issuer and its
// signature, stored in the database under a reserved key and replicated
// like a grant. A delta carrying one needs an admin author (the engine
// marks it as access-control data), and the entry itself takes effect
// only if its issuer was an admin at its version. Dynamic layers the
// entries over the manifest's validator; its documentation states which
// schema judges what: the greatest version wins, ties go to the greater
// issuer; documents stored before a change stay; a remote change passes
// if any version held admits it.
//
// # Merge safety
//
// Documents merge field by field: two writers that each leave a valid
// document can together produce one neither wrote (one sets a field while
// the other deletes the document and a third re-creates it; concurrent
// $addToSet calls grow a set past what either saw). A rule is merge-safe
// when it judges one field's value on its own: then every merged document
// is made of values some valid write put there, and every one of them
// passes. So a validator has two duties:
//
//   - Validate judges a whole document as a local write leaves it. Every
//     rule applies, including those across fields.
//   - ValidateChange judges one change of a remote delta on its own: the
//     value set at a path, one element added to a set, one counter
//     contribution. Only merge-safe rules apply; this is what a replica
//     can check of a delta without knowing what its author saw.
//
// For JSON Schema that gives three classes of keyword:
//
//   - Judged everywhere (merge-safe, per value): type, enum, const,
//     minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf,
//     minLength, maxLength, pattern, format, uniqueItems, items (a schema
//     for every element), properties and additionalProperties (a field not
//     allowed is refused wherever it is written). A counter's value is the
//     sum of concurrent increments: its type is judged on every
//     contribution, its range only on local writes.
//   - Judged on local writes only (they constrain a document as a whole,
//     which merges can change): required, minItems, maxItems,
//     minProperties, maxProperties. A modified peer can break these; an
//     honest one never does.
//   - Refused when the database is created, with an error naming the
//     keyword and where it stands: every other keyword ($ref, allOf,
//     anyOf, oneOf, not, if/then/else, dependentRequired,
//     dependentSchemas, patternProperties, propertyNames, prefixItems,
//     contains, unevaluated*, ...). They relate fields to each other or
//     branch on them, and no per-value judgement can keep them true under
//     field-level merge.
//
// The document's _id is the engine's and never judged. Schemas may not
// load anything: no remote or file references, and at most MaxSchemaBytes
// of JSON per database.
package validation
