"""Evaluation of event filters against the simulation's truth.

Modules
-------
metrics
    Event metrics with cosmic rays as the positive class (Poliszczuk et al. 2024, §3.4).
roc
    ROC of the event classifier and the choice of its threshold.
bench
    Running filters on simulated frames (``crmask wfi bench``).
figures
    Figures comparing filters by energy.
"""
