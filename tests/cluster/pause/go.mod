module baton.dev/pause

go 1.24
