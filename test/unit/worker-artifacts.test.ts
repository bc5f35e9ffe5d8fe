import { createArtifact } from '../../shared/app/artifacts';
import { createRelation } from '../../shared/app/relations';
import { schedule } from '../../shared/app/scheduler';
import { getNextForWorker } from '../../shared/app/workers';
import { ForbiddenError } from '../../shared/domain/errors';
import { createSchedulingWorld } from '../support/scheduling';

it('a worker creates outputs of its running request and relates them to the inputs, nothing else', async () => {
  const w = await createSchedulingWorld();
  const input = await createArtifact(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', category: 'testing', data: {}, files: {} });
  const worker = await w.addWorker('a.lan');
  const other = await w.addWorker('b.lan');
  const wr = await w.submit('noop');
  await schedule(w.deps);
  const holder = (await w.deps.workRequests.get(wr.id))!.worker === worker.name ? worker : other;
  const stranger = holder === worker ? other : worker;
  await getNextForWorker(w.deps, await holder.caller());
  const output = await createArtifact(w.deps, await holder.caller(), { scope: 'debusine', workspace: 'ignored', category: 'testing', data: {}, files: {}, workRequest: wr.id });
  expect(output.artifact).toMatchObject({ createdBy: `work-request:${wr.id}`, workspace: 'priv' });
  expect((await w.deps.workRequests.get(wr.id))!.outputArtifacts).toEqual([output.artifact.id]);
  const { created } = await createRelation(w.deps, await holder.caller(), { artifact: output.artifact.id, target: input.artifact.id, type: 'built-using' });
  expect(created).toBe(true);
  await expect(createRelation(w.deps, await stranger.caller(), { artifact: output.artifact.id, target: input.artifact.id, type: 'relates-to' })).rejects.toThrow(ForbiddenError);
  await expect(createRelation(w.deps, await holder.caller(), { artifact: input.artifact.id, target: output.artifact.id, type: 'relates-to' })).rejects.toThrow(ForbiddenError);
  await expect(
    createArtifact(w.deps, await stranger.caller(), { scope: 'debusine', workspace: 'priv', category: 'testing', data: {}, files: {}, workRequest: wr.id }),
  ).rejects.toThrow(ForbiddenError);
});
