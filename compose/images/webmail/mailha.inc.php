<?php
// mailha settings: where Roundcube finds IMAP and SMTP, from the container's environment.
$config['imap_host'] = getenv('WEBMAIL_IMAP_HOST') ?: 'localhost:143';
$config['smtp_host'] = getenv('WEBMAIL_SMTP_HOST') ?: 'localhost:25';
$config['smtp_user'] = '';
$config['smtp_pass'] = '';
$config['enable_installer'] = false;
$config['log_driver'] = 'stdout';
$config['des_key'] = 'mailha-test-key-24chars!';
$config['product_name'] = getenv('WEBMAIL_NAME') ?: 'mailha webmail';
$config['login_rate_limit'] = 0;
// sessions are bound to this server: a failover logs webmail users out (measured)
$config['ip_check'] = false;
// Sessions in PHP's own file store, not the SQLite database: with 'db' every page view (each
// webmail probe, 10 a second) is an SQLite transaction with fsync, so a 1-2 s disk stall of the
// small test host showed up as a webmail outage (measured: 2.25 s in a scale-out test while
// IMAP and POP answered in 0.3 s). Sessions stay bound to one server either way.
$config['session_storage'] = 'php';
// A stalled IMAP back end must not hold a PHP worker for PHP's default_socket_timeout (60 s): with
// the pool's 5 workers waiting on one hung front end, the whole webmail tier stopped answering —
// its login page included — and both servers left the load balancer (design V, Switch1 cut from one
// front end: webmail 14 s without service). A request that waits longer than this fails, alone.
$config['imap_timeout'] = (int) (getenv('WEBMAIL_IMAP_TIMEOUT') ?: 10);
