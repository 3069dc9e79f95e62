"""HTTP routes: thin edges over the gateway's services."""
