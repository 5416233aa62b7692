from lightrnn.cli import main

raise SystemExit(main())
