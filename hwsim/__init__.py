"""hwsim: a simulated tape library answering at the SCSI command level.

hwsim is "the hardware": it imports nothing from engine, devices or drivers. Each device
(tape drive, media changer) receives a CDB and data-out bytes and returns a ``SimResponse``
(status, sense, data) exactly as a real target would. Devices dispatch through one opcode
table per device type, shared SPC commands are written once (``spc``), and every error is a
``CheckCondition`` turned into sense bytes by one builder (``sense``). Tape contents live in
``media`` (records, filemarks, what is buffered and what is on tape); faults come from a
declarative, seeded ``faults.FaultPlan``.
"""
