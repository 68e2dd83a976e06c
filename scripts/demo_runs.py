"""Fill a database with the small set of runs the README's screenshots show (about a minute).

    .venv/bin/python scripts/demo_runs.py sqlite:///demo.db

Nine digits MLPs (SGD, momentum and Adam, three seeds each: experiment 'optimizers-digits') and four
over-fitting MLPs on a 200-image subset with and without dropout ('dropout-small-subset').
"""

from __future__ import annotations

import sys


def main() -> None:
    from jobs.run import run_experiment

    db_url = sys.argv[1]
    for seed in range(3):
        for optimizer, lr in (("sgd", 0.05), ("momentum", 0.01), ("adam", 0.001)):
            run_experiment({"dataset": "digits", "optimizer": optimizer, "lr": lr, "seed": seed, "epochs": 20,
                            "experiment": "optimizers-digits"}, db_url)
    for dropout in (0.0, 0.2, 0.5, 0.7):
        run_experiment({"dataset": "digits", "subset": 200, "hidden": "256", "dropout": dropout, "epochs": 40,
                        "experiment": "dropout-small-subset"}, db_url)


if __name__ == "__main__":
    main()
