"""Delivery: send and record. `campaign` orchestrates an issue (plan, deliver batches, dry
run); `ledger` and `issues` own the delivery and issue tables; `mailer` is the SMTP or
outbox seam; `sendtime` says who is due; `doctor` checks a configuration before sending.
"""
