/**
 * The zod schema of the `berth.access` configuration section (Berth's repository access rules,
 * evaluated by policy.ts). Every problem is reported with the path of the offending key relative
 * to the section (`rules.1.repositories.0`, `rules.0.actions.2`, `groups.ci.0`): a bad glob, an
 * unknown action, an unknown key in a rule, a rule that names no caller, a group a rule uses but
 * `groups` does not define.
 */
import { z } from 'zod';
import { compileRepositoryGlob } from './repository-glob.js';

export const POLICY_ACTIONS = ['pull', 'push', 'delete', '*'] as const;

const name = z.string().min(1, 'must not be empty');

const repositoryGlob = z.string().superRefine((glob, ctx) => {
  try {
    compileRepositoryGlob(glob);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const rule = z.strictObject({
  repositories: z.array(repositoryGlob).min(1, 'list at least one repository pattern'),
  users: z.array(name).optional(),
  groups: z.array(name).optional(),
  anonymous: z.boolean().optional(),
  actions: z.array(z.enum(POLICY_ACTIONS)).min(1, 'list at least one action'),
});

export const ACCESS_CONFIG_SCHEMA = z
  .strictObject({
    groups: z.record(name, z.array(name)).optional(),
    rules: z.array(rule).optional(),
  })
  .superRefine((access, ctx) => {
    const groups = access.groups ?? {};
    (access.rules ?? []).forEach((r, i) => {
      if ((r.users ?? []).length === 0 && (r.groups ?? []).length === 0 && r.anonymous !== true) {
        ctx.addIssue({ code: 'custom', path: ['rules', i], message: 'the rule applies to nobody: give users, groups or anonymous: true' });
      }
      (r.groups ?? []).forEach((g, j) => {
        if (!Object.hasOwn(groups, g)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'groups', j], message: `unknown group ${JSON.stringify(g)} (not in berth.access.groups)` });
      });
    });
  });

/** The validated `berth.access` section. */
export type AccessConfig = z.output<typeof ACCESS_CONFIG_SCHEMA>;
