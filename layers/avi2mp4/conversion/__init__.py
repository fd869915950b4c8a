"""The conversion of one source, whatever runs it: the path chosen (one pass, or clip jobs, or why
not), the plan, the one pass, the clip jobs and their finish, and what a failure leaves (cleaned up,
then a fall-back to one pass or a rejection). ``owner.Conversion`` drives it; what differs between
the runtimes (the CLI's process pool, Lambda + Step Functions) plugs in through ``ports``."""
