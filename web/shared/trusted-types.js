// zrender, ECharts' renderer, empties its container with `innerHTML = ''`, which Trusted Types block like any string.
// The default policy lets the empty string through and nothing else, so no markup can reach a sink this way.
window.trustedTypes?.createPolicy('default', { createHTML: (html) => (html === '' ? html : null) })
