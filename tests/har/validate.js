// validate.js - checks a HAR file with har-validator (HAR 1.2's JSON
// schema, as browsers' tools read it); prints "valid", or the schema's
// complaints and exits 1.  Installed by tests/28-tap-har.bats with npm ci.
const hv = require('har-validator');
const har = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
hv.har(har).then(() => { console.log('valid'); }, (e) => {
	console.log('invalid', JSON.stringify(e.errors || e.message).slice(0, 2000));
	process.exit(1);
});
