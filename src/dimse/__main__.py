"""``python -m dimse <app> ...`` runs the same apps as the ``dimse`` console script."""

from dimse.apps import main

raise SystemExit(main())
