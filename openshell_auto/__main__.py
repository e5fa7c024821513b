from openshell_auto.cli import main

main()
