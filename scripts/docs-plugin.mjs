// TypeDoc plugin for the API reference (loaded from typedoc.json). Two gaps in TypeDoc that would
// otherwise force code changes (or weaker validation) to document the public API:
//
// 1. The IPWorks-style twins getLocalPort()/setLocalPort(v) ... are generated from the property
//    table (src/daemon/properties.ts) through a mapped type, so they have no declaration to carry a
//    comment: each gets a line pointing at the camelCase property it mirrors.
// 2. Members of an inline object type (`'pty-req': { term: string; cols: number; ... }`, the
//    return type of `address()`) can be documented from the comment of the property or signature
//    that owns the type with `@property name text` tags, as TypeDoc already allows for `@interface`
//    type aliases. A tag that names no member is reported, so these comments cannot go stale.
//
// `notDocumented` stays strict for everything else.
import { Comment, Converter, IntersectionType, ReflectionKind, ReflectionType, UnionType } from 'typedoc';

export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    documentPropertyTwins(context.project);
    for (const reflection of Object.values(context.project.reflections)) {
      documentInlineMembers(reflection, reflection.comment, app.logger);
      for (const sig of reflection.signatures ?? []) documentInlineMembers(sig, sig.comment, app.logger);
    }
  });
}

function documentPropertyTwins(project) {
  const daemon = project.getChildByName('SSHDaemon');
  if (!daemon) return;
  const props = new Map((daemon.children ?? []).map((c) => [c.name.toLowerCase(), c]));
  for (const member of daemon.children ?? []) {
    const m = /^(get|set)([A-Z]\w*)$/.exec(member.name);
    if (!m || member.comment || member.signatures?.some((s) => s.comment)) continue;
    if (!member.kindOf(ReflectionKind.Property | ReflectionKind.Method)) continue;
    const target = props.get(m[2].toLowerCase());
    if (!target) continue;
    member.comment = new Comment([
      { kind: 'text', text: `${m[1] === 'get' ? 'Reads' : 'Sets'} ` },
      { kind: 'inline-tag', tag: '@link', text: target.name, target },
      { kind: 'text', text: ' (the IPWorks accessor name, for ported code).' },
    ]);
  }
}

function documentInlineMembers(owner, comment, logger) {
  const tags = comment?.blockTags.filter((t) => (t.tag === '@property' || t.tag === '@prop') && t.name);
  if (!tags?.length) return;
  const members = literalsOf(owner.type).flatMap((d) => d.children ?? []);
  if (!members.length) return; // interfaces and @interface aliases: TypeDoc handles the tags itself
  for (const tag of tags) {
    const named = members.filter((c) => c.name === tag.name);
    if (!named.length) logger.warn(`@property ${tag.name} in the comment of ${owner.getFullName()} names no member of its type`);
    for (const child of named) child.comment ??= new Comment(Comment.cloneDisplayParts(tag.content));
  }
  comment.blockTags = comment.blockTags.filter((t) => !tags.includes(t));
}

/** The object-literal types in a type, through unions (`{ ok: true; ... } | { ok: false; ... }`). */
function literalsOf(type) {
  if (type instanceof ReflectionType) return [type.declaration];
  if (type instanceof UnionType || type instanceof IntersectionType) return type.types.flatMap(literalsOf);
  return [];
}
