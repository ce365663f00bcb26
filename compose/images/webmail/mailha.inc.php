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
// sessions are bound to this server's own database: a failover logs webmail users out (measured)
$config['ip_check'] = false;
