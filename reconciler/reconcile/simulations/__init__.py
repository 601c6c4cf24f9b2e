"""The daemon's simulation service: pull-request simulations queued from webhook deliveries
and by hand, run in `simulate`'s sandbox on worker threads, stored with their bounded
reports and run records, and posted to the forge the pull request lives on."""
