"""How devices are talked to: SCSI transports, command sets, sense decoding, discovery.

Nothing here imports from ``devices`` or ``engine``. hwsim sits below this package as
"the hardware" and may be imported by transports that reach it.
"""
