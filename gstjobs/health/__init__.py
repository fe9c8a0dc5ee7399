"""Health of the automation rules and of the jobs: the automation-health-check job
(``automation``) and ``gstjobs health-report`` (``report``, ``jobs``, ``views``)."""
