//! The shield's rules: one regular expression each, written against normalized text (decoded,
//! lower-case ASCII, SQL comments blanked; see `decode.rs`) and compiled without Unicode.
//!
//! Each rule needs the structure of an attack, not a keyword: `' or 1=1`, not `or`; `; cat /etc`,
//! not `cat`. Our users type SQL, HTML and shell into bodies, which the shield never reads, but
//! the same words turn up in queries and headers too. Where a rule could still meet honest text,
//! its comment says what keeps it from firing. Order matters: when several rules match, the
//! first one in this table names the hit.
//!
//! `shared/build.rs` includes this file as it is and compiles the rules at build time (see
//! `prebuilt.rs`), so it uses nothing from the crate; a rule that does not compile fails the build.

/// The kind of attack a rule recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttackClass {
    SqlInjection,
    CrossSiteScripting,
    PathTraversal,
    CommandInjection,
    Jndi,
    RemoteFileInclusion,
    ScannerProbe,
}

impl AttackClass {
    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AttackClass::SqlInjection => "sql_injection",
            AttackClass::CrossSiteScripting => "cross_site_scripting",
            AttackClass::PathTraversal => "path_traversal",
            AttackClass::CommandInjection => "command_injection",
            AttackClass::Jndi => "jndi",
            AttackClass::RemoteFileInclusion => "remote_file_inclusion",
            AttackClass::ScannerProbe => "scanner_probe",
        }
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scope(u8);

impl Scope {
    pub(super) const PATH: Scope = Scope(1);
    pub(super) const QUERY: Scope = Scope(2);
    pub(super) const HEADER: Scope = Scope(4);
    const PATH_QUERY: Scope = Scope(1 | 2);
    const ALL: Scope = Scope(1 | 2 | 4);

    pub(super) fn contains(self, other: Scope) -> bool {
        self.0 & other.0 == other.0
    }
}

pub(super) struct Rule {
    pub(super) name: &'static str,
    pub(super) class: AttackClass,
    pub(super) scope: Scope,
    pub(super) pattern: &'static str,
}

/// Commands that do harm only with an argument (`cat /etc/passwd`, `nc 10.0.0.1 4444`).
macro_rules! commands_with_argument {
    () => {
        "(?:cat|tac|nl|head|tail|more|less|ls|cp|mv|rm|chmod|chown|curl|wget|nc|ncat|netcat|telnet|ping|\
         nslookup|dig|bash|sh|zsh|ksh|dash|python[23]?|perl|ruby|php|node|lua|awk|sed|echo|printf|base64|\
         xxd|find|grep|touch|mkdir|tftp|ftp|scp|ssh|socat|openssl|powershell|pwsh|cmd|certutil|bitsadmin|\
         sleep|kill|pkill|crontab|nohup|busybox|eval|exec)"
    };
}

/// Commands that do harm on their own (`; id`, `| whoami`, `$(id)`).
macro_rules! commands_alone {
    () => {
        "(?:id|whoami|uname|pwd|ifconfig|ipconfig|hostname|ps|env|printenv|netstat|ls|systeminfo)"
    };
}

/// What an attacker runs a command on: a flag, a path, a variable, an address, a URL (quoted or
/// not). A quoted word alone is not enough: "less 'fun'" is prose.
macro_rules! command_argument {
    () => {
        concat!(
            r#"(?:\s+|\$\{?ifs\}?|<)['"]?"#,
            r"(?:-{1,2}[a-z]|/|~|\$|\.{1,2}/|\d{1,3}(?:\.\d{1,3}){3}|[a-z]+://|[\w-]+(?:\.[\w-]+)+[/\s])"
        )
    };
}

/// What a shell reads as the start of a new command, or the start of a value (`?cmd=cat /etc`).
/// A query's own `&` never reaches a rule: pairs are matched one by one, so an `&` here was sent
/// encoded.
macro_rules! command_start {
    () => {
        r"(?:^|[;|&\n`=]|\$\()\s*"
    };
}

/// The event handlers payloads use most, for text with no tag or quote around it. Listed, so
/// `online=` or `onboarding=` never fire.
macro_rules! common_event_handlers {
    () => {
        "on(?:error|load|focus|blur|click|dblclick|mouse[a-z]+|pointer[a-z]+|key[a-z]+|toggle|begin|\
         animation[a-z]+|transition[a-z]+|pageshow|hashchange|input|change|submit|wheel|scroll|drag[a-z]*)"
    };
}

pub(super) const RULES: &[Rule] = &[
    // JNDI / log4shell. Any log4j lookup syntax is hostile; nothing we serve uses `${...:...}`.
    Rule { name: "jndi-lookup", class: AttackClass::Jndi, scope: Scope::ALL, pattern: r"\$\{\s*jndi\s*:" },
    // `${${lower:j}ndi:`, `${j${::-n}di:`: a lookup inside a lookup, the obfuscation's signature.
    Rule {
        name: "jndi-nested-lookup",
        class: AttackClass::Jndi,
        scope: Scope::ALL,
        pattern: r"\$\{[^}]*\$\{",
    },
    // `${::-j}`, `${env:X:-j}`: the default-value trick that spells `jndi` one letter at a time.
    Rule { name: "jndi-default-value", class: AttackClass::Jndi, scope: Scope::ALL, pattern: r"\$\{[^}]*:-" },
    Rule {
        name: "log4j-lookup",
        class: AttackClass::Jndi,
        scope: Scope::ALL,
        pattern: concat!(
            r"\$\{\s*(?:lower|upper|env|sys|date|base64|main|ctx|map|sd|spring|k8s|docker|java|log4j",
            r"|web|bundle|jvmrunargs|event|marker|script|dns|ldaps?|rmi)\s*:",
        ),
    },
    // Shellshock: a function definition in a header value.
    Rule {
        name: "shellshock",
        class: AttackClass::CommandInjection,
        scope: Scope::ALL,
        pattern: r"\(\s*\)\s*\{[^}]*;[^}]*\}",
    },
    // `; cat /etc/passwd`, `| nc 10.0.0.1 4444`, `$(curl http://...)`: a separator, a command,
    // and an argument of the shape attacks use. "black; cat lovers" has no such argument.
    Rule {
        name: "cmd-chained",
        class: AttackClass::CommandInjection,
        scope: Scope::ALL,
        pattern: concat!(command_start!(), commands_with_argument!(), command_argument!()),
    },
    Rule {
        name: "cmd-chained-bare",
        class: AttackClass::CommandInjection,
        scope: Scope::ALL,
        pattern: concat!(r"(?:[;|&\n`]|\$\()\s*", commands_alone!(), r"\s*(?:$|[;|&`#)\n]|\s+-[a-z])"),
    },
    Rule {
        name: "cmd-shell-invocation",
        class: AttackClass::CommandInjection,
        scope: Scope::ALL,
        pattern: concat!(
            r"/bin/(?:ba|z|k|da|c)?sh\b",
            r"|\b(?:ba|z)?sh\s+-[ci]\s",
            r"|/dev/(?:tcp|udp)/",
            r"|\bnc(?:at)?\s+(?:-\w+\s+)*-e\s",
            r"|\bpowershell(?:\.exe)?\s+-(?:e|enc|encodedcommand|nop|noprofile|w|windowstyle|c|command|exec)\b",
            r"|\bcmd(?:\.exe)?\s+/[ck]\s",
            r"|\b(?:wget|curl)\s[^|;]*\|\s*(?:ba)?sh\b",
            r"|\bpython[23]?\s+-c\s",
            r"|\bperl\s+-e\s",
            r"|\brm\s+-rf\s+/",
            r"|\bmkfifo\s",
            r"|\$\{ifs\}",
        ),
    },
    // SQL injection.
    Rule {
        name: "sqli-union-select",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: r"\bunion(?:\s+(?:all|distinct))?[\s(]+select\b",
    },
    // A quote closing a string, then a boolean operator and something only SQL puts there: a
    // comparison (`' or 1=1`, `') or ('a'='a`, `" or ""="`), a bare truth value or number ending
    // the input (`' or true--`), or a function call (`' and sleep(5)`). Prose that quotes a
    // phrase ("'to be' or not to be", "'Hamlet' and it is good") has words, not operators, there.
    Rule {
        name: "sqli-quote-boolean",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: concat!(
            r#"['"`]\s*\)*\s*"#,
            r"(?:(?:or|and|xor)\b|\|\||&&)[\s(]*",
            r"(?:",
            r#"['"]?[\w.@]+['"]?\s*(?:=|<>|!=|<=?|>=?|\b(?:like|regexp|rlike)\s*['"])"#,
            r#"|['"]{2}\s*="#,
            r"|(?:true|false|\d+)\s*(?:--|#|;|\)|$)",
            r"|\(\s*select\b",
            r"|(?:exists|substr|substring|mid|ascii|ord|length|if|sleep|benchmark|updatexml|extractvalue|elt)",
            r"\s*\(",
            r")",
        ),
    },
    Rule {
        name: "sqli-numeric-tautology",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: r"\b\d+\s*\)*\s+(?:or|and|xor)\s+\(*\s*\d+\s*(?:=|<>|!=|<|>)\s*\d+",
    },
    // `admin'--`, `1')#`: a quote, then straight away a comment that cuts off the rest of the
    // query. Prose puts a space before a dash-dash (`"hello" -- and`); a quoted multipart
    // boundary (`"----WebKit...`) has a third dash, which no comment needs.
    Rule {
        name: "sqli-quote-comment",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: r#"['"`]\)*(?:--|#)(?:\s|$)"#,
    },
    Rule {
        name: "sqli-stacked-query",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: concat!(
            r";\s*(?:",
            r"(?:drop|truncate|alter|create|rename)\s+",
            r"(?:table|database|schema|user|view|function|procedure|index)\b",
            r"|delete\s+from\b|insert\s+into\b|update\s+\S+\s+set\b",
            r"|exec(?:ute)?\s|shutdown\b|declare\s+@|waitfor\s+delay\b",
            r")",
        ),
    },
    Rule {
        name: "sqli-time-delay",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: concat!(
            r"\b(?:pg_)?sleep\s*\(\s*\d+(?:\.\d+)?\s*\)",
            r"|\bbenchmark\s*\(\s*\d+\s*,",
            r#"|\bwaitfor\s+delay\s*['"]"#,
            r"|\bdbms_pipe\.receive_message\s*\(",
        ),
    },
    Rule {
        name: "sqli-system-objects",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: concat!(
            r"\b(?:information_schema|pg_catalog|pg_shadow|sysobjects|syscolumns|sqlite_master|msysaccessobjects|mysql\.user)\b",
            r"|\b(?:load_file|extractvalue|updatexml|group_concat|utl_inaddr\.get_host_address|xp_cmdshell|sp_executesql|sys_eval|sys_exec)\s*\(",
            r"|@@(?:version|datadir|hostname|basedir)\b",
            r"|\binto\s+(?:out|dump)file\b",
            r"|\bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*)+\)",
        ),
    },
    Rule {
        name: "sqli-select-shape",
        class: AttackClass::SqlInjection,
        scope: Scope::ALL,
        pattern: concat!(
            r"\bselect\s+(?:",
            r"\*\s+from\b",
            r"|(?:null|\d+)(?:\s*,\s*(?:null|\d+))+",
            r"|(?:user|database|version|current_user|system_user|schema)\s*\(",
            r"|@@",
            r")",
        ),
    },
    // Cross-site scripting.
    Rule {
        name: "xss-script-tag",
        class: AttackClass::CrossSiteScripting,
        scope: Scope::ALL,
        pattern: r"<\s*/?\s*script\b",
    },
    // An event handler attribute: any `on...=` inside a tag (`<svg/onload=`) or right after a
    // quote that closes an attribute (`" onfocus="`); elsewhere only the usual handlers.
    Rule {
        name: "xss-event-handler",
        class: AttackClass::CrossSiteScripting,
        scope: Scope::ALL,
        pattern: concat!(
            r#"<[a-z][^>]*[\s"'/]on[a-z]{3,}\s*=|['"]\s*/?\s*on[a-z]{3,}\s*=|[\s/;]"#,
            common_event_handlers!(),
            r"\s*="
        ),
    },
    // `javascript:` followed by code; "JavaScript: The Good Parts" is followed by a word. Browsers
    // drop tabs and newlines inside a URL's scheme, so `jav&#x09;ascript:` counts too.
    Rule {
        name: "xss-script-uri",
        class: AttackClass::CrossSiteScripting,
        scope: Scope::ALL,
        pattern: concat!(
            r"(?:\bj\s*a\s*v\s*a\s*|\bvb\s*|\blive\s*)s\s*c\s*r\s*i\s*p\s*t\s*:\s*",
            r#"(?:[\w$.]+\s*[(`=\[]|[/'"({\[$!~+-])"#,
            r"|\bdata:\s*(?:text/html|image/svg\+xml|text/javascript|application/(?:x-)?javascript)",
        ),
    },
    Rule {
        name: "xss-active-tag",
        class: AttackClass::CrossSiteScripting,
        scope: Scope::ALL,
        pattern: r"<\s*(?:iframe|frame|frameset|object|embed|applet|base|meta|link|form|math|svg|style|marquee|template|isindex)\b",
    },
    // Calls that only script payloads make: `alert(1)`, `eval('...')`, `document.cookie`. The
    // parenthesis must touch the name; "confirm (1 of 2)" is prose.
    Rule {
        name: "xss-script-call",
        class: AttackClass::CrossSiteScripting,
        scope: Scope::ALL,
        pattern: concat!(
            r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|atob)",
            r#"(?:\(\s*(?:\d|['"`/)]|document\b|window\b|this\b|top\b|self\b|parent\b|string\.fromcharcode)|`)"#,
            r"|\bdocument\s*\.\s*(?:cookie|domain|write)\b",
            r"|\.innerhtml\s*=",
            r"|\bstring\.fromcharcode\s*\(",
            r"|constructor\.constructor\s*\(",
        ),
    },
    // Path traversal and local file inclusion.
    Rule {
        name: "traversal-dot-dot",
        class: AttackClass::PathTraversal,
        scope: Scope::ALL,
        pattern: r"(?:^|[/\\=\s])\.{2,}[/\\;]|[/\\]\.{2,}(?:[/\\;]|$)",
    },
    Rule {
        name: "lfi-system-file",
        class: AttackClass::PathTraversal,
        scope: Scope::ALL,
        pattern: concat!(
            r"/etc/(?:passwd|shadow|group|hosts|issue|motd|sudoers|crontab|fstab|hostname|resolv\.conf|environment|profile)\b",
            r"|/proc/(?:self|\d+|thread-self)/(?:environ|cmdline|fd|maps|mem|status|cwd|root|exe)\b",
            r"|\b[a-z]:[/\\]+(?:windows|winnt|inetpub)\b",
            r"|[/\\](?:win|system|boot)\.ini\b",
            r"|/(?:root|home/[^/]+)/\.(?:ssh|bash_history|aws|docker)\b",
            r"|\bid_(?:rsa|dsa|ecdsa|ed25519)\b",
            r"|/var/(?:log|www|lib/mysql)/",
            r"|\bweb-inf/web\.xml\b",
        ),
    },
    Rule { name: "lfi-nul-byte", class: AttackClass::PathTraversal, scope: Scope::ALL, pattern: r"\x00" },
    // Remote file inclusion. Headers carry URLs all the time (Referer, Origin, bots' UAs), so only
    // the stream wrappers no browser sends are looked for there; `file://` is a legitimate Origin.
    Rule {
        name: "rfi-stream-wrapper",
        class: AttackClass::RemoteFileInclusion,
        scope: Scope::ALL,
        pattern: r"\b(?:php|phar|expect|gopher|dict|jar|netdoc|ssh2|ogg|compress\.zlib|compress\.bzip2)://",
    },
    Rule {
        name: "rfi-local-wrapper",
        class: AttackClass::RemoteFileInclusion,
        scope: Scope::PATH_QUERY,
        pattern: r"\b(?:file|zip|glob|data|ldap|tftp)://",
    },
    // A URL whose trailing `?` turns the server's own suffix into a query string, or one aimed
    // at a bare IP address, or handed to a parameter named like an include.
    Rule {
        name: "rfi-remote-url",
        class: AttackClass::RemoteFileInclusion,
        scope: Scope::QUERY,
        pattern: concat!(
            r"=\s*(?:https?|ftps?)://[^\s]*\?+\s*$",
            r"|=\s*(?:https?|ftps?)://\d{1,3}(?:\.\d{1,3}){3}(?:[:/]|$)",
            r"|^(?:include|inc|require|page|file|template|load|path|doc|document|conf|module|mod|lang|language|theme|skin|layout)=\s*(?:https?|ftps?)://",
        ),
    },
    // Scanner probes: paths that exist on other stacks and that nobody asks this API for.
    Rule {
        name: "probe-dotenv",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"/\.env(?:$|[./_-])",
    },
    Rule {
        name: "probe-vcs",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"/\.(?:git|svn|hg|bzr|cvs)(?:/|$)",
    },
    Rule {
        name: "probe-ds-store",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"/\.ds_store$",
    },
    Rule {
        name: "probe-credentials",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"/\.(?:aws|azure|gcloud|kube|docker|ssh|npmrc|pypirc|netrc|boto|git-credentials|htpasswd|htaccess)(?:/|$)",
    },
    Rule {
        name: "probe-wordpress",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"/(?:wp-admin|wp-login|wp-content|wp-includes|wp-json|wp-config|xmlrpc\.php|wordpress)(?:$|[/.])",
    },
    Rule {
        name: "probe-db-admin",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"/(?:phpmyadmin|phpmy|pma|myadmin|mysqladmin|mysql|adminer|dbadmin|sqladmin|pgadmin|phppgadmin|sqlite|websql)(?:$|[/._-])",
    },
    Rule {
        name: "probe-server-pages",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: concat!(
            r"/server-(?:status|info)(?:$|/)",
            r"|/cgi-(?:bin|sys|mod)(?:$|/)",
            r"|/(?:actuator|jolokia|heapdump|threaddump|jmx-console|web-console|admin-console|invoker|hystrix\.stream)(?:$|/)",
        ),
    },
    // Server-side script extensions: this API serves none, so any is a scanner's guess.
    Rule {
        name: "probe-script-extension",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"\.(?:php[0-9s]?|phtml|phar|aspx?|ashx|asmx|axd|jspx?|do|action|cgi|pl|cfm|shtml)(?:$|[/.;~])",
    },
    Rule {
        name: "probe-config-file",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: concat!(
            r"/(?:config|configuration|settings|secrets?|credentials|appsettings|parameters|database",
            r"|sftp-config|docker-compose|localsettings|env)",
            r"\.(?:json|ya?ml|xml|ini|conf|cfg|toml|properties|bak|old|txt)$",
            r"|/web\.config$",
        ),
    },
    Rule {
        name: "probe-backup-file",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: r"\.(?:sql|sqlite3?|db|mdb|bak|old|orig|swp|save|tar|tgz|gz|zip|rar|7z|bz2|dump|pem|key|crt|p12|pfx|jks|kdbx|log)$",
    },
    Rule {
        name: "probe-known-exploit",
        class: AttackClass::ScannerProbe,
        scope: Scope::PATH,
        pattern: concat!(
            r"/(?:",
            r"vendor/phpunit|_ignition|telescope|_profiler|solr/admin|manager/html|jenkins|elmah\.axd",
            r"|debug/default/view|api/jsonws|geoserver|nacos|phpinfo|webshell|shell",
            // Routers and VPN appliances.
            r"|hnap1|boaform|autodiscover/autodiscover\.xml|owa/auth|remote/login|global-protect",
            r"|\+cscoe\+|dana-na",
            r")(?:$|[/.?])",
        ),
    },
];
