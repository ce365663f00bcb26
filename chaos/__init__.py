"""Faults and nemesis schedules: what mailha does to a cluster, seeded and reproducible."""
