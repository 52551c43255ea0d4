"""The job manager: queue, resources, reservations, dispatcher, sweeper, control.

How a job gets to run (several processes, one catalog; they coordinate only through it):
1. ``queue.submit`` puts a job in QUEUED with its ``job_queue`` row (owner: the foreground
   process that will run it, or none: any ``tapir server``).
2. A dispatcher pass (dispatcher.py) takes the eligible QUEUED/WAITING jobs by priority (lower
   number first) then age. For each it resolves the resources it needs (probe.py: drives of a
   drive pool, a medium or a scratch one from a pool, a mount path with room, storage policy
   streams) and reserves them all in one write transaction (reservations.py), or none: the job
   is WAITING with a reason for delay naming the resource (reasons.py).
3. A job that cannot get a resource held by a lower-priority preemptable job sets it
   INTERRUPT_PENDING and waits "for job(s) [N] to release the resources"; the holder stops at
   its next checkpoint, releases everything, and waits in turn (control.py, runner.py).
4. The holder's lease is renewed by its heartbeat; the sweeper (sweeper.py) releases the
   reservations of holders that died and ends their runs.
Time is read through an injectable clock (clock.py) so lease and retry tests take seconds.
"""
