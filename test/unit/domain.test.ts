import { computeExpireAt, parseExpirationDelay, categoryProblem } from '../../shared/domain/artifacts';
import { ValidationError } from '../../shared/domain/errors';
import { filePathProblem } from '../../shared/domain/paths';
import { canModifyArtifact, roleAtLeast, workspaceAccess } from '../../shared/domain/roles';
import { tokenUnusableReason, type Token } from '../../shared/domain/tenancy';

describe('file path rules', () => {
  it.each([
    ['a.txt', undefined],
    ['dir/sub/file.deb', undefined],
    ['x'.repeat(500), undefined],
    ['', 'must not be empty'],
    ['x'.repeat(501), 'must be at most 500 characters'],
    ['/etc/passwd', 'must be relative (no leading "/")'],
    ['../escape', 'must not contain a ".." segment'],
    ['a/../../b', 'must not contain a ".." segment'],
    ['a\0b', 'must not contain a NUL character'],
    ['a//b', 'must not contain empty segments ("//" or a trailing "/")'],
    ['a/./b', 'must not contain a "." segment'],
    ['..foo/bar..', undefined],
  ])('%j → %s', (path, problem) => {
    expect(filePathProblem(path)).toBe(problem);
  });
});

describe('roles', () => {
  it('orders roles viewer < uploader < contributor < owner', () => {
    expect(roleAtLeast('owner', 'contributor')).toBe(true);
    expect(roleAtLeast('uploader', 'contributor')).toBe(false);
    expect(roleAtLeast('uploader', 'viewer')).toBe(true);
    expect(roleAtLeast(undefined, 'viewer')).toBe(false);
  });
  it('makes everyone a viewer of a public workspace and admins owners everywhere', () => {
    expect(workspaceAccess({ isAdmin: false, granted: undefined, workspacePublic: true })).toEqual({ canSee: true, role: 'viewer' });
    expect(workspaceAccess({ isAdmin: false, granted: undefined, workspacePublic: false })).toEqual({ canSee: false, role: undefined });
    expect(workspaceAccess({ isAdmin: true, granted: undefined, workspacePublic: false })).toEqual({ canSee: true, role: 'owner' });
    expect(workspaceAccess({ isAdmin: false, granted: 'uploader', workspacePublic: true }).role).toBe('uploader');
  });
  it('lets uploaders change only their own artifacts and contributors any', () => {
    expect(canModifyArtifact('uploader', 'user:a', 'user:a')).toBe(true);
    expect(canModifyArtifact('uploader', 'user:a', 'user:b')).toBe(false);
    expect(canModifyArtifact('contributor', 'user:a', 'user:b')).toBe(true);
    expect(canModifyArtifact('viewer', 'user:a', 'user:a')).toBe(false);
  });
});

describe('expiry', () => {
  const created = new Date('2026-01-01T00:00:00Z');
  it('adds the delay, and 0 or null keeps forever', () => {
    expect(computeExpireAt(created, 86400)).toBe('2026-01-02T00:00:00.000Z');
    expect(computeExpireAt(created, 0)).toBeNull();
    expect(computeExpireAt(created, null)).toBeNull();
  });
  it('parses Django durations and seconds', () => {
    expect(parseExpirationDelay('1 02:03:04')).toBe(86400 + 7384);
    expect(parseExpirationDelay('00:10:00')).toBe(600);
    expect(parseExpirationDelay(30)).toBe(30);
    expect(() => parseExpirationDelay('tomorrow')).toThrow(ValidationError);
    expect(() => parseExpirationDelay(-1)).toThrow(ValidationError);
    expect(() => parseExpirationDelay('00:61:00')).toThrow(ValidationError);
  });
});

describe('categories', () => {
  it('accepts namespace:name and the testing category', () => {
    expect(categoryProblem('debian:source-package')).toBeUndefined();
    expect(categoryProblem('testing')).toBeUndefined();
    expect(categoryProblem('no spaces')).toBeDefined();
  });
});

describe('tokens', () => {
  const base: Token = {
    id: 't', hash: 'h', username: 'u', purpose: 'api', status: 'active', enabled: true, comment: '', createdAt: '2026-01-01T00:00:00Z', version: 1,
  };
  const now = new Date('2026-06-01T00:00:00Z');
  it('refuses revoked, disabled, requested and expired tokens', () => {
    expect(tokenUnusableReason(base, now)).toBeUndefined();
    expect(tokenUnusableReason({ ...base, status: 'revoked' }, now)).toMatch(/revoked/);
    expect(tokenUnusableReason({ ...base, enabled: false }, now)).toMatch(/disabled/);
    expect(tokenUnusableReason({ ...base, status: 'requested', enabled: false }, now)).toMatch(/disabled/);
    expect(tokenUnusableReason({ ...base, expireAt: '2026-05-31T23:59:59Z' }, now)).toMatch(/expired/);
    expect(tokenUnusableReason({ ...base, expireAt: '2026-06-02T00:00:00Z' }, now)).toBeUndefined();
  });
});
