"""The small core: settings, database, models, encryption, logging, the job queue and the
embedded stores. Depends on nothing else of ours."""
