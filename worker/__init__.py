"""Background sending of notices: RQ jobs on the service's Redis, run by `flask --app app worker`.

- queue.py: enqueueing (RQ with a Redis server; an in-process thread with the embedded default);
- jobs.py: the job functions RQ runs;
- sender.py: claiming, sending under the shared rate limit, recording;
- ratelimit.py: rate limits shared through Redis (sends per second, failed logins);
- cli.py: the `worker` command.
"""
