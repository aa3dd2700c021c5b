from django import forms
from django.contrib.auth import get_user_model

from .models import PROVIDERS_GROUP, Message, Order, ServiceRequest


class ProviderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class ServiceRequestForm(forms.ModelForm):
    provider = ProviderChoiceField(queryset=get_user_model().objects.none(), empty_label=None)

    class Meta:
        model = ServiceRequest
        fields = ["provider", "title", "description"]
        widgets = {
            "title": forms.TextInput(attrs={"placeholder": "Fix the kitchen sink"}),
            "description": forms.Textarea(attrs={"rows": 3, "placeholder": "What, where, when?"}),
        }

    def __init__(self, *args, customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = (
            get_user_model()
            .objects.filter(groups__name=PROVIDERS_GROUP, is_active=True)
            .exclude(pk=customer.pk)
            .order_by("username")
        )


class OrderStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Order.Status.choices)


class MessageForm(forms.ModelForm):
    class Meta:
        model = Message
        fields = ["content"]
        labels = {"content": ""}
        widgets = {"content": forms.Textarea(attrs={"rows": 2, "placeholder": "Write a message…"})}


class BroadcastForm(forms.Form):
    title = forms.CharField(max_length=255, initial="Scheduled maintenance")
    message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        initial="The platform will be down for 5 minutes tonight at 23:00.",
    )
