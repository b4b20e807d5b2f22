// The admin's canned-reply picker: choosing a reply puts its text in the message box, after what is there.
// A file, not an inline script: the Content-Security-Policy allows scripts from the panel's own files only.
document.addEventListener("DOMContentLoaded", () => {
  const picker = document.querySelector("[data-canned-picker]");
  const box = document.getElementById("id_message");
  if (!picker || !box) return;
  picker.addEventListener("change", () => {
    const option = picker.selectedOptions[0];
    if (!option || !option.dataset.body) return;
    const before = box.value.trimEnd();
    box.value = before ? `${before}\n\n${option.dataset.body}` : option.dataset.body;
    picker.value = "";
    box.focus();
  });
});
