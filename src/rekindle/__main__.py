from rekindle.cli import main

main()
