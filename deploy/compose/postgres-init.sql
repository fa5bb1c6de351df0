-- One database per service (architecture.md §2); schemas come from each service's migration job.
CREATE DATABASE odr_complaints;
CREATE DATABASE odr_merchants;
CREATE DATABASE odr_mediation;
