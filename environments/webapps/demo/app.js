// Acme Workspace: a tiny app whose whole state is observable as window.__demoState (and GET /state).
const CONTACTS = [
  ['Ada Lovelace', '+44 20 7946 0018'], ['Alan Turing', '+44 20 7946 0912'], ['Barbara Liskov', '+1 617 555 0134'],
  ['Claude Shannon', '+1 617 555 0199'], ['Donald Knuth', '+1 650 555 0110'], ['Edsger Dijkstra', '+31 40 555 0147'],
  ['Frances Allen', '+1 914 555 0176'], ['Grace Hopper', '+1 202 555 0143'], ['John McCarthy', '+1 650 555 0163'],
  ['Katherine Johnson', '+1 757 555 0190'], ['Margaret Hamilton', '+1 617 555 0152'], ['Tim Berners-Lee', '+44 20 7946 0371'],
];
const state = window.__demoState = {
  signedIn: false, user: null, failedSignIns: 0, view: 'signin', search: '',
  settings: { emailNotifications: false, darkMode: false, autoSave: true },
};
const $ = (id) => document.getElementById(id);
const publish = () => fetch('/state', { method: 'POST', body: JSON.stringify(state) }).catch(() => {});

function show(view) {
  state.view = view;
  $('signin').hidden = view === 'signin' ? false : true;
  $('app').hidden = view === 'signin';
  for (const tab of document.querySelectorAll('.tab')) {
    tab.classList.toggle('active', tab.dataset.view === view);
    $(tab.dataset.view).hidden = tab.dataset.view !== view;
  }
  publish();
}

function renderContacts() {
  const q = state.search.trim().toLowerCase();
  const list = $('contact-list');
  list.replaceChildren();
  for (const [name, phone] of CONTACTS.filter(([n]) => n.toLowerCase().includes(q))) {
    const li = document.createElement('li');
    li.innerHTML = '<span></span><span></span>';
    li.firstChild.textContent = name;
    li.lastChild.textContent = phone;
    list.append(li);
  }
  $('no-results').hidden = list.children.length > 0;
}

let toastTimer;
function toast(text) {
  $('toast').textContent = text;
  $('toast').classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => $('toast').classList.remove('show'), 1500);
}

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = $('username').value.trim(), password = $('password').value;
  if (user === 'alice' && password === 'wonderland') {
    Object.assign(state, { signedIn: true, user });
    $('whoami').textContent = `Signed in as ${user}`;
    $('signin-error').hidden = true;
    show('contacts');
  } else {
    state.failedSignIns += 1;
    $('signin-error').hidden = false;
    publish();
  }
});
$('signout').addEventListener('click', () => {
  Object.assign(state, { signedIn: false, user: null });
  $('password').value = '';
  show('signin');
});
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => show(tab.dataset.view));
$('search').addEventListener('input', (e) => { state.search = e.target.value; renderContacts(); publish(); });
for (const box of document.querySelectorAll('.switch input')) {
  box.addEventListener('change', () => {
    state.settings[box.dataset.key] = box.checked;
    document.body.classList.toggle('dark', state.settings.darkMode);
    toast('Settings saved');
    publish();
  });
}
renderContacts();
show('signin');

// Layout variants, for regression tests of recorded sessions (demo/?variant=NAME): the same app after a
// release that moved the sign-in button, renamed the Settings tab, or lost it (a real regression).
const variant = new URLSearchParams(location.search).get('variant');
if (variant === 'moved') $('signin-button').style.cssText = 'position: relative; top: 90px;';
if (variant === 'renamed') $('tab-settings').textContent = 'Preferences';
if (variant === 'gone') $('tab-settings').remove();
